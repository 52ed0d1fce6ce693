from pathlib import Path
from typing import Optional

import typer

from agent_cli.cli._context import app_context

app = typer.Typer()


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    keep: Optional[Path] = typer.Option(None, "--keep", help="Build the demo in this (empty) directory and keep it afterwards."),
) -> None:
    """The whole loop, offline, on the bundled example shop: a bug fixed all the way to production, then a bad fix
    caught on staging and rolled back. Needs git, sh and Python; no network beyond 127.0.0.1, no API key.

    Example: agent demo --keep /tmp/agent-demo
    """
    from agent_cli.demo import run_demo

    out = app_context(ctx).out
    summary = run_demo(out.info if out.json_mode else out.line, keep=keep)
    out.result(summary, lambda: out.line(f"\ndemo done in {summary['directory']}" + ("" if summary["kept"] else " (removed)")))
