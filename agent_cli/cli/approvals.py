import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("approvals")
def approvals_command(ctx: typer.Context) -> None:
    """The human approval queue."""
    not_implemented("approvals")


@app.command("approve")
def approve_command(ctx: typer.Context, approval: int = typer.Argument(..., help="Approval id.")) -> None:
    """Approve a pending request."""
    with app_context(ctx).locked_run("approve"):
        not_implemented("approve")


@app.command("reject")
def reject_command(
    ctx: typer.Context,
    approval: int = typer.Argument(..., help="Approval id."),
    reason: str = typer.Option(..., "--reason", help="Why; recorded in the audit log."),
) -> None:
    """Reject a pending request."""
    with app_context(ctx).locked_run("reject"):
        not_implemented("reject")
