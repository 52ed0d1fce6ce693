from typing import Optional

import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("diagnose")
def diagnose_command(
    ctx: typer.Context,
    issues: Optional[list[int]] = typer.Argument(None, help="Issue ids (default: every undiagnosed issue)."),
) -> None:
    """Find the root cause of the given issues."""
    with app_context(ctx).locked_run("diagnose"):
        not_implemented("diagnose")
