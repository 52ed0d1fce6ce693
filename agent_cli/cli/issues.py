from typing import Optional

import typer

from agent_cli.cli._context import not_implemented

app = typer.Typer()


@app.command("issues")
def issues_command(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="Only issues with this status."),
    severity: Optional[str] = typer.Option(None, "--severity", help="Only issues of this severity (P0..P4)."),
) -> None:
    """List issues."""
    not_implemented("issues")
