from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output
from agent_cli.errors import EXIT_FAILED

app = typer.Typer()


@app.command("run")
def run_command(
    ctx: typer.Context,
    level: Optional[int] = typer.Option(None, "--level", min=1, max=3, help="Autonomy level for this run (1-3)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide everything, change nothing."),
) -> None:
    """One full cycle of every step, as policy allows: scan, diagnose, fix, deploy, verify, promote or roll back.

    Example (crontab): */5 * * * * cd /srv/app && agent run
    """
    from agent_cli.pipeline import run_cycle

    appctx = app_context(ctx)
    with appctx.locked_run("run") as run:
        cycle = run_cycle(run, level=level, dry_run=dry_run)
        if cycle.failures:
            run.conclude(EXIT_FAILED, "; ".join(cycle.failures)[:500])
        else:
            run.conclude(0, f"{len(cycle.actions)} actions" + (" (dry run)" if dry_run else ""))
    data = cycle.as_dict()
    appctx.out.result(data, lambda: _render(appctx.out, data))
    if cycle.failures:
        for failure in cycle.failures:
            appctx.out.error(failure)
        raise typer.Exit(EXIT_FAILED)


def _render(out: Output, c: dict[str, Any]) -> None:
    out.line(f"level {c['level']}" + (" (dry run: nothing changed)" if c["dry_run"] else ""))
    for a in c["actions"]:
        head = f"{a['step']}" + (f" issue {a['issue']}" if a.get("issue") else "") + f": {a['action']}"
        d = a.get("decision")
        if d:
            head += f" [{d['verdict']}: {d['rule']}] {d['reason']}"
        elif a.get("reason"):
            head += f": {a['reason']}"
        out.line(head)
        if d and out.verbose:
            for sub in d.get("decisions", []):
                out.line(f"    {sub['verdict']}: {sub['rule']}: {sub['reason']}")
    if not c["actions"]:
        out.line("nothing to do")
    for warning in c.get("warnings", []):
        out.line(f"warning: {warning}")
