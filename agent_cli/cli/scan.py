from typing import Optional

import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("scan")
def scan_command(
    ctx: typer.Context,
    source: Optional[list[str]] = typer.Option(None, "--source", help="Only this source (repeatable)."),
) -> None:
    """Read new log lines / probes since the last scan and group events into issues."""
    with app_context(ctx).locked_run("scan"):
        not_implemented("scan")
