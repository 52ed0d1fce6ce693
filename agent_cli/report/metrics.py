"""Metrics from the state file for a period, with the previous period beside it. Reads only.

Periods are rolling windows ending at `now`: `day` the last 24 hours, `week` the last 7 days, `month` the last 30
days, `all` everything (no previous period). A row belongs to the window its own time falls in: an issue to the
window of its first_seen (detected) or resolved_at (fixed), a fix to its created_at, a deployment to its decided_at.
Times are compared with SQLite's julianday(), so ISO-8601 stamps with any UTC offset or none compare correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_cli.state import State

PERIODS = ("day", "week", "month", "all")
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}

# A fix attempt that ran to an outcome (not one still building, not a dry run that records nothing to ship).
_ATTEMPTED = "status NOT IN ('building', 'dry_run')"
_COMMITTED = "status IN ('committed', 'superseded')"  # superseded: committed, then replaced by `fix --again`
_DECIDED = "status NOT IN ('deploying', 'monitoring')"
_ROLLED_BACK = "status IN ('rolled_back', 'rollback_failed')"


@dataclass(frozen=True)
class Window:
    start: datetime | None  # None: since the beginning
    end: datetime

    def params(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat()}

    def to_dict(self) -> dict[str, str | None]:
        return self.params()


def _in(column: str) -> str:
    """SQL: `column` falls in [:start, :end)."""
    return f"({column} IS NOT NULL AND (:start IS NULL OR julianday({column}) >= julianday(:start)) AND julianday({column}) < julianday(:end))"


def windows(period: str, now: datetime | None = None) -> tuple[Window, Window | None]:
    """The period's window ending at `now` and the one before it (None for `all`)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    end = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
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
    p = window.params()

    def one(sql: str) -> int:
        return int(state.db.execute(sql, p).fetchone()[0] or 0)

    def seconds(sql: str) -> list[float]:
        return [round(float(r[0]) * 86400, 3) for r in state.db.execute(sql, p) if r[0] is not None]

    # Resolved through an agent deployment: verify sets resolved_at when the fix is healthy in production.
    auto_fixed_sql = (f"SELECT i.id FROM issues i WHERE {_in('i.resolved_at')} AND EXISTS (SELECT 1 FROM deployments d WHERE "
                      "d.issue_id = i.id AND d.kind = 'deploy' AND d.env = 'production' AND d.status IN ('healthy', 'rolled_back', 'rollback_failed'))")
    auto_fixed = [int(r[0]) for r in state.db.execute(auto_fixed_sql, p)]
    issues = {
        "detected": one(f"SELECT COUNT(*) FROM issues WHERE {_in('first_seen')}"),
        "auto_fixed": len(auto_fixed),
        # Moved to needs_human in the window (the audit has the move and its time), counted once per issue.
        "needs_human": one(f"SELECT COUNT(DISTINCT issue_id) FROM audit WHERE decision = 'status:needs_human' AND {_in('ts')}"),
    }
    attempted = one(f"SELECT COUNT(*) FROM fixes WHERE {_ATTEMPTED} AND {_in('created_at')}")
    committed = one(f"SELECT COUNT(*) FROM fixes WHERE {_COMMITTED} AND {_in('created_at')}")
    deploys = f"kind = 'deploy' AND {_DECIDED} AND {_in('decided_at')}"
    decided = one(f"SELECT COUNT(*) FROM deployments WHERE {deploys}")
    healthy = one(f"SELECT COUNT(*) FROM deployments WHERE {deploys} AND status = 'healthy'")
    rolled_back = one(f"SELECT COUNT(*) FROM deployments WHERE {deploys} AND {_ROLLED_BACK}")
    # A fix rolled back on staging whose commit never went to production: a bad release users never saw.
    staging_rollbacks = one(
        f"SELECT COUNT(*) FROM deployments d WHERE d.kind = 'deploy' AND d.env = 'staging' AND d.status = 'rolled_back' AND {_in('d.decided_at')} "
        "AND NOT EXISTS (SELECT 1 FROM deployments p WHERE p.kind = 'deploy' AND p.env = 'production' AND p.fix_sha = d.fix_sha)"
    )
    regressions = one(f"SELECT COUNT(*) FROM audit WHERE decision = 'reopened' AND {_in('ts')}")
    mttr = seconds(f"SELECT julianday(resolved_at) - julianday(first_seen) FROM issues WHERE {_in('resolved_at')}")
    to_fix = seconds(
        "SELECT julianday(f.created_at) - julianday(i.first_seen) FROM issues i JOIN "
        f"(SELECT issue_id, MIN(created_at) AS created_at FROM fixes WHERE {_COMMITTED} GROUP BY issue_id) f ON f.issue_id = i.id "
        f"WHERE {_in('f.created_at')}"
    )
    to_verify = seconds(f"SELECT julianday(decided_at) - julianday(live_at) FROM deployments WHERE {deploys} AND live_at IS NOT NULL")
    llm = state.db.execute(
        f"SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) FROM llm_calls WHERE {_in('ts')}", p
    ).fetchone()
    # What resolving cost: every call made for the issues resolved in the window, whenever it was made.
    resolved_cost = {"cost_usd": 0.0, "tokens": 0}
    if auto_fixed:
        marks = ",".join("?" * len(auto_fixed))
        cost, tokens = state.db.execute(
            f"SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens + output_tokens), 0) FROM llm_calls WHERE issue_id IN ({marks})", auto_fixed
        ).fetchone()
        resolved_cost = {"cost_usd": float(cost), "tokens": int(tokens)}
    n_resolved = len(auto_fixed)
    types = state.db.execute(
        f"SELECT COALESCE(NULLIF(exception_type, ''), '(untyped)') AS t, COUNT(*) AS n FROM issues WHERE {_in('first_seen')} "
        "GROUP BY t ORDER BY n DESC, t LIMIT 5", p
    ).fetchall()
    evidence = state.db.execute(
        "SELECT COALESCE(f.evidence, 'unrecorded') AS e, COUNT(DISTINCT f.id) FROM fixes f JOIN deployments d ON d.fix_id = f.id "
        f"WHERE d.kind = 'deploy' AND d.env = 'production' AND {_in('d.live_at')} GROUP BY e ORDER BY e", p
    ).fetchall()
    return {
        "window": window.to_dict(),
        "issues": issues,
        "fixes": {"attempted": attempted, "committed": committed, "success_rate": _rate(committed, attempted)},
        "deployments": {
            "decided": decided, "healthy": healthy, "rolled_back": rolled_back,
            "success_rate": _rate(healthy, decided), "rollback_rate": _rate(rolled_back, decided),
            "rollbacks_by_hand": one(f"SELECT COUNT(*) FROM deployments WHERE kind = 'rollback' AND {_in('started_at')}"),
        },
        "incidents_prevented": {"total": staging_rollbacks + regressions, "staging_rollbacks": staging_rollbacks, "regressions_caught": regressions},
        "times": {"mttr": _durations(mttr), "time_to_fix": _durations(to_fix), "time_to_verify": _durations(to_verify)},
        "llm": {
            "calls": int(llm[0]), "cost_usd": round(float(llm[1]), 6), "input_tokens": int(llm[2]), "output_tokens": int(llm[3]),
            "resolved_issues": n_resolved,
            "cost_per_resolved_usd": round(resolved_cost["cost_usd"] / n_resolved, 6) if n_resolved else None,
            "tokens_per_resolved": round(resolved_cost["tokens"] / n_resolved, 1) if n_resolved else None,
        },
        "top_issue_types": [{"type": t, "count": int(n)} for t, n in types],
        "evidence_mix": {e: int(n) for e, n in evidence},
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
