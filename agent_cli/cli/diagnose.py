from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output
from agent_cli.errors import EXIT_FAILED, EXIT_REFUSED

app = typer.Typer()


@app.command("diagnose")
def diagnose_command(
    ctx: typer.Context,
    issues: Optional[list[int]] = typer.Argument(None, help="Issue ids (default: every undiagnosed issue)."),
) -> None:
    """Find the root cause of the given issues."""
    from agent_cli.diagnose import diagnose

    appctx = app_context(ctx)
    with appctx.locked_run("diagnose") as run:
        result = diagnose(run, issues)
        if result.failed:
            run.conclude(EXIT_FAILED, f"{len(result.failed)} issue(s) not diagnosed")
        elif result.refused and issues:
            run.conclude(EXIT_REFUSED, f"{len(result.refused)} issue(s) refused")
    out = appctx.out
    data = result.as_dict()
    out.result(data, lambda: _render(out, data))
    for failure in result.failed:
        out.error(f"issue {failure['id']}: {failure['reason']}")
    for refusal in result.refused:
        out.error(f"issue {refusal['id']}: {refusal['reason']}")
    if run.exit_code:
        raise typer.Exit(run.exit_code)


def _render(out: Output, data: dict[str, Any]) -> None:
    if not (data["diagnosed"] or data["failed"] or data["refused"]):
        out.line("nothing to diagnose")
    for d in data["diagnosed"]:
        culprit = d["culprit"]
        suspect = d["suspect_commit"]
        pairs = [
            ("issue", d["issue_id"]),
            ("root cause", d["root_cause"]),
            ("culprit", f"{culprit['path']}:{culprit['line']} in {culprit['function']}: {culprit['code']}" if culprit else "no in-repo frame"),
            ("suspect", f"{suspect['sha'][:12]} {suspect['subject']} ({suspect['author']}, {suspect['age_hours']:.1f}h ago)" if suspect else "none"),
            ("strategy", d["fix_strategy"]),
            ("confidence", f"{d['confidence']:.2f} (provider {d['provider']} said {d['provider_confidence']:.2f}"
             + "".join(f"; {a['delta']:+.2f} {a['reason']}" for a in d["adjustments"]) + ")"),
            ("cost", f"${d['cost_usd']:.4f}"),
        ]
        if d.get("provider_note"):
            pairs.insert(1, ("provider", f"{d['provider']} ({d['provider_note']})"))
        out.fields(pairs)
        out.line()
