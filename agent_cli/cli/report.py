from pathlib import Path
from typing import Optional

import typer

from agent_cli.cli._context import not_implemented

app = typer.Typer()


@app.command("report")
def report_command(
    ctx: typer.Context,
    period: str = typer.Option("week", "--period", help="day, week, month or all."),
    format: str = typer.Option("text", "--format", help="text, markdown, json or html."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write to this file instead of stdout."),
) -> None:
    """Executive report and metrics."""
    not_implemented("report")
