import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("fix")
def fix_command(
    ctx: typer.Context,
    issue: int = typer.Argument(..., help="Issue id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff and validation results; commit nothing."),
) -> None:
    """Build, validate and commit a fix on a branch."""
    with app_context(ctx).locked_run("fix"):
        not_implemented("fix")
