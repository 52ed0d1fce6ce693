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
    again: bool = typer.Option(False, "--again", help="Replace the issue's committed fix with a new one."),
) -> None:
    """Build, validate and commit a fix on a branch.

    Example: agent fix 12 --dry-run
    """
    from agent_cli.fix.step import fix

    appctx = app_context(ctx)
    with appctx.locked_run("fix") as run:
        result = fix(run, issue, dry_run=dry_run, again=again)
        why = ""
        if not result.succeeded:
            last = result.attempts[-1].reasons if result.attempts else ["no fix strategy applies"]
            why = f"issue {issue}: no fix: {result.stopped or '; '.join(last)[:500]}"
            run.conclude(EXIT_REFUSED if result.refused_only else EXIT_FAILED, why[:500])
    out = appctx.out
    data = result.as_dict()
    out.result(data, lambda: _render(out, data))
    if why:
        out.error(why)
        raise typer.Exit(run.exit_code)


def _render(out: Output, data: dict[str, Any]) -> None:
    from agent_cli.fix.validate import first_failing_lines

    out.line(data["sandbox"])
    for a in data["attempts"]:
        out.line(f"attempt {a['number']} ({a['strategy']}): {a['outcome']}" + (f": {a['summary']}" if a["summary"] else ""))
        for reason in a["reasons"]:
            out.line(f"  - {reason}")
        for v in a["validation"]:
            ok = v["exit_code"] == 0 and not v["timed_out"]
            state = "passed" if ok else "timed out" if v["timed_out"] else f"exit {v['exit_code']}"
            out.line(f"  $ {v['command']}: {state} ({v['duration_s']:.1f}s)")
            if not ok:  # why, in the words of the tool: the first failing lines, or all of the output with -v
                shown = v["output_tail"].rstrip().splitlines() if out.verbose else first_failing_lines(v["output_tail"]) or v["output_tail"].rstrip().splitlines()[-5:]
                for line in shown:
                    out.line(f"    | {line}")
        if a.get("evidence") and a["outcome"] in ("committed", "validated"):
            ev = a["evidence"]
            out.line(f"  evidence: {ev['kind']}" + (f" ({', '.join(ev['tests'][:5])})" if ev["tests"] else f" ({ev['detail']})"))
        if a.get("confidence_note"):
            out.line(f"  confidence: {a['confidence_note']}")
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
    if data.get("kept"):
        out.line(f"\nthe committed fix on {data['kept']} is kept")
