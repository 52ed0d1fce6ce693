from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("approvals")
def approvals_command(ctx: typer.Context) -> None:
    """The human approval queue: what waits for a person, and why.

    Example: agent approvals
    """
    from agent_cli.approvals import list_approvals

    appctx = app_context(ctx)
    with appctx.state() as state:
        rows = list_approvals(state)
    data = {"approvals": rows}
    appctx.out.result(data, lambda: _render(appctx.out, rows))


def _render(out: Output, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.line("no pending approvals")
        return
    out.table(["id", "issue", "gate", "expires", "why"], [(r["id"], r["issue_id"] or "-", r["gate"] or r["action"], r["expires_at"][:16] if r["expires_at"] else "-",
                                                          r["reason"]) for r in rows])


@app.command("approve")
def approve_command(
    ctx: typer.Context,
    approval: int = typer.Argument(..., help="Approval id."),
    note: str = typer.Option("", "--note", help="Recorded with the decision."),
    by: str = typer.Option("", "--by", help="Who decides (default: the OS user)."),
) -> None:
    """Approve a pending request: the next run passes that gate, once.

    Example: agent approve 3 --note "checked the diff"
    """
    _decide(ctx, approval, approve=True, note=note, by=by)


@app.command("reject")
def reject_command(
    ctx: typer.Context,
    approval: int = typer.Argument(..., help="Approval id."),
    reason: str = typer.Option(..., "--reason", help="Why; recorded in the audit log."),
    by: str = typer.Option("", "--by", help="Who decides (default: the OS user)."),
) -> None:
    """Reject a pending request (an inconclusive deployment is then rolled back by the next run).

    Example: agent reject 3 --reason "touches billing"
    """
    _decide(ctx, approval, approve=False, note=reason, by=by)


@app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    issue: int = typer.Argument(..., help="Issue id."),
    reason: str = typer.Option("", "--reason", help="Why; recorded in the audit log."),
    by: str = typer.Option("", "--by", help="Who cancels (default: the OS user)."),
) -> None:
    """Stop a fix that is waiting out its cancel window.

    Example: agent cancel 12 --reason "not during the sale"
    """
    from agent_cli.approvals import cancel_fix
    from agent_cli.issues import operator_name

    appctx = app_context(ctx)
    with appctx.locked_run("cancel") as run:
        row = cancel_fix(run.state, issue, by=by or operator_name(), note=reason, run_id=run.run_id)
    appctx.out.result(row, lambda: appctx.out.line(f"issue {issue}: fix cancelled (approval {row['id']} rejected)"))


def _decide(ctx: typer.Context, approval: int, *, approve: bool, note: str, by: str) -> None:
    from agent_cli.approvals import decide
    from agent_cli.issues import operator_name

    appctx = app_context(ctx)
    with appctx.locked_run("approve" if approve else "reject") as run:
        row = decide(run.state, approval, approve=approve, by=by or operator_name(), note=note, run_id=run.run_id)
    appctx.out.result(row, lambda: appctx.out.line(f"approval {row['id']} ({row['gate']}): {row['status']} by {row['decided_by']}"))
