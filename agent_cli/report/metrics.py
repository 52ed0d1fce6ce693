"""Metrics from the state file for a period, with the previous period beside it. Reads only.

Periods are rolling windows ending at `now`: `day` the last 24 hours, `week` the last 7 days, `month` the last 30
days, `all` everything (no previous period). A row belongs to the window its own time falls in: an issue to the
window of its first_seen (detected) or resolved_at (fixed), a fix to its created_at, a deployment to its decided_at.
The counting is `agent_cli.store.metrics`; this module turns its counts into rates and percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from agent_cli import clock
from agent_cli.store import metrics as store_metrics

if TYPE_CHECKING:
    from agent_cli.state import State

PERIODS = ("day", "week", "month", "all")
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True)
class Window:
    start: datetime | None  # None: since the beginning
    end: datetime

    def params(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat()}

    def to_dict(self) -> dict[str, str | None]:
        return self.params()


def windows(period: str, now: datetime | None = None) -> tuple[Window, Window | None]:
    """The period's window ending at `now` and the one before it (None for `all`)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    end = (now or clock.current().now()).astimezone(timezone.utc)
    if period == "all":
        return Window(None, end), None
    span = timedelta(days=PERIOD_DAYS[period])
    return Window(end - span, end), Window(end - 2 * span, end - span)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, `statistics.quantiles(method='inclusive')`)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)


def _durations(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "median_s": percentile(values, 0.5), "p90_s": percentile(values, 0.9)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def window_metrics(state: "State", window: Window) -> dict[str, Any]:
    """Every number of the report for one window."""
    c = store_metrics.window(state, window.start, window.end)
    n_resolved = len(c.auto_fixed)
    return {
        "window": window.to_dict(),
        "issues": {"detected": c.detected, "auto_fixed": n_resolved, "needs_human": c.needs_human},
        "fixes": {"attempted": c.fixes_attempted, "committed": c.fixes_committed, "success_rate": _rate(c.fixes_committed, c.fixes_attempted)},
        "deployments": {
            "decided": c.deploys_decided, "healthy": c.deploys_healthy, "rolled_back": c.deploys_rolled_back,
            "success_rate": _rate(c.deploys_healthy, c.deploys_decided), "rollback_rate": _rate(c.deploys_rolled_back, c.deploys_decided),
            "rollbacks_by_hand": c.rollbacks_by_hand,
        },
        "incidents_prevented": {"total": c.staging_rollbacks + c.regressions, "staging_rollbacks": c.staging_rollbacks,
                                "regressions_caught": c.regressions},
        "times": {"mttr": _durations(list(c.mttr_s)), "time_to_fix": _durations(list(c.time_to_fix_s)),
                  "time_to_verify": _durations(list(c.time_to_verify_s))},
        "llm": {
            "calls": c.llm_calls, "cost_usd": round(c.llm_cost_usd, 6), "input_tokens": c.llm_input_tokens, "output_tokens": c.llm_output_tokens,
            "resolved_issues": n_resolved,
            "cost_per_resolved_usd": round(c.resolved_cost_usd / n_resolved, 6) if n_resolved else None,
            "tokens_per_resolved": round(c.resolved_tokens / n_resolved, 1) if n_resolved else None,
        },
        "top_issue_types": [{"type": t, "count": n} for t, n in c.top_issue_types],
        "evidence_mix": dict(c.evidence_mix),
    }


def has_data(m: dict[str, Any]) -> bool:
    return bool(m["issues"]["detected"] or m["issues"]["auto_fixed"] or m["issues"]["needs_human"] or m["fixes"]["attempted"]
                or m["deployments"]["decided"] or m["llm"]["calls"] or m["incidents_prevented"]["total"])


def metrics(state: "State", period: str, now: datetime | None = None) -> dict[str, Any]:
    """The period's metrics and the previous period's (None for `all`)."""
    current, previous = windows(period, now)
    m = window_metrics(state, current)
    return {
        "period": period,
        "generated_at": current.end.isoformat(),
        "current": m,
        "previous": window_metrics(state, previous) if previous else None,
        "has_data": has_data(m),
    }
