from pathlib import Path
from typing import Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.errors import ConfigError, StepFailed

app = typer.Typer()

PERIODS = ("day", "week", "month", "all")  # agent_cli.report.PERIODS; repeated so `--help` imports nothing heavy
FORMATS = ("text", "markdown", "json", "html")


@app.command("report")
def report_command(
    ctx: typer.Context,
    period: str = typer.Option("week", "--period", help="day, week, month or all (rolling, ending now; the previous period beside it)."),
    format: str = typer.Option("text", "--format", help="text, markdown, json or html (one self-contained file)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write to this file instead of stdout, and print its path."),
) -> None:
    """Executive report and metrics: what was fixed and how it was verified, rates, MTTR, LLM spend, incidents.

    Example: agent report --period month --format html --output report.html
    """
    if period not in PERIODS:
        raise ConfigError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}")
    if format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    from agent_cli.cli._render import sanitize
    from agent_cli.report import build_report, render

    appctx = app_context(ctx)
    with appctx.state() as state:
        data = build_report(state, appctx.settings(), period)
    out = appctx.out
    if output is None and out.json_mode:
        out.result(data)
        return
    text = render(data, format)
    if format in ("text", "markdown"):  # read in a terminal or a pager: no escape sequence from log text survives
        text = sanitize(text, keep_newlines=True)
    if output is None:
        if format == "text":
            out.line(text.rstrip("\n"))
        else:
            typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StepFailed(f"cannot write {output}: {exc.strerror or exc}") from None
    path = str(output.resolve())
    out.result({"output": path, "format": format, "period": period}, lambda: out.line(path))
