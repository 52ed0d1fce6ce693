from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output
from agent_cli.errors import EXIT_FAILED, EXIT_REFUSED

app = typer.Typer()


@app.command("fix")
def fix_command(
    ctx: typer.Context,
    issue: int = typer.Argument(..., help="Issue id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff and validation results; commit nothing."),
) -> None:
    """Build, validate and commit a fix on a branch."""
    from agent_cli.fix import fix

    appctx = app_context(ctx)
    with appctx.locked_run("fix") as run:
        result = fix(run, issue, dry_run=dry_run)
    out = appctx.out
    data = result.as_dict()
    out.result(data, lambda: _render(out, data))
    if not result.succeeded:
        last = result.attempts[-1].reasons if result.attempts else ["no fix strategy applies"]
        out.error(f"issue {issue}: no fix: {result.stopped or '; '.join(last)[:500]}")
        raise typer.Exit(EXIT_REFUSED if result.refused_only else EXIT_FAILED)


def _render(out: Output, data: dict[str, Any]) -> None:
    out.line(data["sandbox"])
    for a in data["attempts"]:
        out.line(f"attempt {a['number']} ({a['strategy']}): {a['outcome']}" + (f": {a['summary']}" if a["summary"] else ""))
        for reason in a["reasons"]:
            out.line(f"  - {reason}")
        for v in a["validation"]:
            state = "passed" if v["exit_code"] == 0 and not v["timed_out"] else "timed out" if v["timed_out"] else f"exit {v['exit_code']}"
            out.line(f"  $ {v['command']}: {state} ({v['duration_s']:.1f}s)")
        for reason in a["approval"]:
            out.line(f"  approval: {reason}")
        if a["not_committed"]:
            out.line(f"  left by validation, not committed: {', '.join(a['not_committed'])}")
    final = next((a for a in reversed(data["attempts"]) if a["outcome"] in ("committed", "validated")), None)
    if final is not None:
        out.line("")
        out.line(final["diff"].rstrip())
    if data["status"] == "fix_ready":
        out.line(f"\nfix ready: branch {data['branch']} at {data['sha'][:12]}")
    elif data["status"] == "dry_run":
        out.line("\ndry run: nothing committed")
