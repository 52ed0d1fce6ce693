from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """The dashboard: level, paused, last run, issues by status, limits used."""
    from agent_cli.controls import status

    appctx = app_context(ctx)
    with appctx.state() as state:
        result = status(appctx.settings(), state)
    appctx.out.result(result, lambda: _render(appctx.out, result))


def _render(out: Output, s: dict[str, Any]) -> None:
    run = s["last_run"]
    last = "never" if run is None else f"{run['command']} at {run['started_at']} ({run['outcome'] or 'running'})"
    paused = f"yes, since {s['paused_since']}: {s['paused_reason']}" if s["paused"] else "no"
    limits = s["limits"]
    out.fields(
        [
            ("level", s["level"]),
            ("paused", paused),
            ("sandbox", f"{s['sandbox']['mode']} ({s['sandbox']['detail']})"),
            ("last run", last),
            ("active deployments", s["active_deployments"]),
            ("pending approvals", s["pending_approvals"]),
            ("deploys today", f"{limits['deploys_today']['used']}/{limits['deploys_today']['max']}"),
            ("fixes last hour", f"{limits['fixes_last_hour']['used']}/{limits['fixes_last_hour']['max']}"),
            ("LLM cost today", f"${limits['llm_cost_today_usd']['used']:.2f}/${limits['llm_cost_today_usd']['max']:.2f}"),
        ]
    )
    rows = [(d["id"], d["env"], d["issue_id"] or "-", d["status"], f"{min(d['watched_s'], d['monitor_s'] or 0)}/{d['monitor_s']}s",
             d["last_verdict"] or "-", f"{d['consecutive_failures']}/{d['consecutive_errors']}/{d['successful_samples']}")
            for d in s["deployments"]]
    if rows:
        out.table(["id", "env", "issue", "status", "window", "last sample", "fail/err/ok"], rows, title="deployments")
    counts = [(k, v) for k, v in s["issues"].items() if v]
    if counts:
        out.table(["status", "issues"], counts, title="issues by status")
    else:
        out.fields([("issues", "none")])
