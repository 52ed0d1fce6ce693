"""The dashboard (`agent status`): level, pause, sandbox, LLM, deployments watched, approvals, limits, newest issues.

`last_good_cycle` is `agent status --check` (a dead-man's switch for the cron job). A watched deployment's
counts come from verdicts.counters, the counting release.assess decides on, without importing the release package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent_cli import clock
from agent_cli.config import Settings
from agent_cli.controls import pause_state
from agent_cli.llm_health import llm_status
from agent_cli.sandbox import describe as describe_sandbox
from agent_cli.state import ISSUE_STATUSES, State
from agent_cli.store import dashboard as store_dashboard
from agent_cli.store import llm_calls as store_llm_calls
from agent_cli.store import metrics as store_metrics
from agent_cli.verdicts import counters


def status(settings: Settings, state: State, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.current().now()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    counts = state.issue_counts_by_status()
    policy = settings.policy
    paused = pause_state(state)
    return {
        "level": policy.autonomy_level,
        "paused": bool(paused.get("paused")),
        "paused_reason": paused.get("reason"),
        "paused_since": paused.get("since"),
        "sandbox": describe_sandbox(settings, state),
        "llm": llm_status(settings, state, now.date()),
        "last_run": state.last_run(),
        "issues": {s: counts.get(s, 0) for s in ISSUE_STATUSES},
        "active_deployments": store_dashboard.active_deployments(state),
        "deployments": _watched_deployments(settings, state),
        "approvals": store_dashboard.pending_approvals(state),
        "newest_issues": store_dashboard.newest_issues(state),
        "pending_approvals": store_dashboard.pending_approval_count(state),
        "limits": {
            "deploys_today": {"used": store_metrics.deploys_started_since(state, day_start, including_failed=True), "max": policy.max_deploys_per_day},
            "fixes_last_hour": {"used": state.fixes_committed_last_hour(), "max": policy.max_fixes_per_hour},
            "llm_cost_today_usd": {"used": round(store_llm_calls.spent_since(state, now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()), 4), "max": settings.llm.max_cost_per_day_usd},
        },
        "state": str(state.path),
        "repo": str(settings.repo_path),
    }


def _watched_deployments(settings: Settings, state: State) -> list[dict[str, Any]]:
    """Deployments being watched or held for a person: their window progress and latest verdict."""
    now = clock.current().now()
    out = []
    for d in store_dashboard.watched_deployments(state):
        samples = store_metrics.samples(state, d["id"])
        last = samples[-1:]
        d.update(counters([s.verdict or "" for s in samples]))  # a sample without a verdict counts as none
        env = settings.environments.get(d["env"])
        watched = (now - datetime.fromisoformat(d["live_at"])).total_seconds() if d["live_at"] else 0.0
        out.append({**d, "watched_s": round(watched), "monitor_s": env.monitor_s if env else None,
                    "last_verdict": last[0].verdict if last else None, "successful_samples": d["successful"], "last_sample_at": last[0].ts if last else None})
    return out


def last_good_cycle(state: State, *, max_age_min: float) -> dict[str, Any]:
    """Is the last `agent run` that ended with exit 0 younger than `max_age_min` minutes?"""
    finished_at = store_dashboard.last_good_run(state)
    if finished_at is None:
        return {"ok": False, "last_good": None, "reason": "no `agent run` has finished well yet"}
    age = (clock.current().now() - datetime.fromisoformat(finished_at)).total_seconds() / 60
    ok = age <= max_age_min
    return {"ok": ok, "last_good": finished_at, "age_min": round(age, 1),
            "reason": f"last good `agent run` {age:.0f} min ago" + ("" if ok else f", older than {max_age_min:g} min")}
