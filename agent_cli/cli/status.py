from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output, sanitize

app = typer.Typer()


@app.command("status")
def status_command(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Exit 1 when the last good `agent run` is older than --max-age minutes."),
    max_age: float = typer.Option(15.0, "--max-age", help="With --check: minutes."),
) -> None:
    """The dashboard: level, paused and why, sandbox, deployments watched, approvals waiting, limits used, last run, newest issues.

    Example (a dead-man's switch for the cron job): agent status --check --max-age 15
    """
    from agent_cli.dashboard import last_good_cycle, status

    appctx = app_context(ctx)
    with appctx.state() as state:
        result = status(appctx.settings(), state)
        if check:
            result["check"] = last_good_cycle(state, max_age_min=max_age)
    appctx.out.result(result, lambda: _render(appctx.out, result))
    if check and not result["check"]["ok"]:
        appctx.out.error(result["check"]["reason"])
        raise typer.Exit(1)


def _render(out: Output, s: dict[str, Any]) -> None:
    run = s["last_run"]
    last = "never" if run is None else f"{run['command']} at {run['started_at']} ({run['outcome'] or 'running'}" + (f", exit {run['exit_code']})" if run.get('exit_code') is not None else ")")
    paused = f"yes, since {s['paused_since']}: {s['paused_reason']}" if s["paused"] else "no"
    limits = s["limits"]
    out.fields(
        [
            ("level", s["level"]),
            ("paused", paused),
            ("sandbox", f"{s['sandbox']['mode']} ({s['sandbox']['detail']})"),
            ("LLM", _llm_line(s["llm"])),
            ("last run", last),
            ("active deployments", s["active_deployments"]),
            ("pending approvals", s["pending_approvals"]),
            ("deploys today", f"{limits['deploys_today']['used']}/{limits['deploys_today']['max']}"),
            ("fixes last hour", f"{limits['fixes_last_hour']['used']}/{limits['fixes_last_hour']['max']}"),
            ("LLM cost today", f"${limits['llm_cost_today_usd']['used']:.2f}/${limits['llm_cost_today_usd']['max']:.2f}"),
        ]
    )
    for warning in s["llm"]["warnings"]:
        if not warning.startswith("LLM: degraded"):  # the LLM line says that one
            out.line(f"warning: {sanitize(warning)}")
    rows = [(d["id"], d["env"], d["issue_id"] or "-", d["status"], f"{min(d['watched_s'], d['monitor_s'] or 0)}/{d['monitor_s']}s",
             d["last_verdict"] or "-", f"{d['consecutive_failures']}/{d['consecutive_errors']}/{d['successful_samples']}")
            for d in s["deployments"]]
    if rows:
        out.table(["id", "env", "issue", "status", "window", "last sample", "fail/err/ok"], rows, title="deployments")
    if s["approvals"]:
        out.table(["id", "issue", "gate", "expires", "why"], [(a["id"], a["issue_id"] or "-", a["gate"], (a["expires_at"] or "-")[:16], sanitize(a["reason"] or "")[:100])
                                                             for a in s["approvals"]], title="waiting for a person (agent approve ID / agent reject ID)")
    if s["newest_issues"]:
        out.table(["id", "sev", "status", "count", "last seen", "title"], [(i["id"], i["severity"], i["status"], i["count"], i["last_seen"][:19],
                                                                          sanitize(i["title"])[:80]) for i in s["newest_issues"]], title="newest issues")
    counts = [(k, v) for k, v in s["issues"].items() if v]
    if counts:
        out.table(["status", "issues"], counts, title="issues by status")
    else:
        out.fields([("issues", "none")])


def _llm_line(llm: dict[str, Any]) -> str:
    line = f"{llm['provider']}" + (f" ({llm['model']})" if llm["model"] else "")
    if llm["degraded"]:
        line += f"; degraded since {llm['degraded']['since'][:19]}: {sanitize(llm['degraded']['reason'])}"
    return line
