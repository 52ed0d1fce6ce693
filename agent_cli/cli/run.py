from typing import Optional

import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("run")
def run_command(
    ctx: typer.Context,
    level: Optional[int] = typer.Option(None, "--level", min=1, max=3, help="Autonomy level for this run (1-3)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide everything, change nothing."),
) -> None:
    """One full cycle of every step, as policy allows."""
    with app_context(ctx).locked_run("run"):
        not_implemented("run")
