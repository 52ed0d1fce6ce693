"""Metrics: what the reports count over a window, the series their charts draw, the fixes shipped and the
incidents, a deployment's health samples, and the per-minute source totals release measurement reads.

Reads only. A window is [since, until): `since` None means from the beginning. A row belongs to the window its
own time falls in (an issue by first_seen or resolved_at, a fix by created_at, a deployment by decided_at or
live_at). Times are compared with SQLite's julianday(), so ISO-8601 stamps with any UTC offset or none compare
correctly. Durations are in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_cli.state import State

# A fix attempt that ran to an outcome (not one still building, not a dry run that records nothing to ship).
_ATTEMPTED = "status NOT IN ('building', 'dry_run')"
_COMMITTED = "status IN ('committed', 'superseded')"  # superseded: committed, then replaced by `fix --again`
_DECIDED = "status NOT IN ('deploying', 'monitoring')"
_ROLLED_BACK = "status IN ('rolled_back', 'rollback_failed')"


def _in(column: str) -> str:
    """SQL: `column` falls in [:start, :end)."""
    return f"({column} IS NOT NULL AND (:start IS NULL OR julianday({column}) >= julianday(:start)) AND julianday({column}) < julianday(:end))"


def _params(since: datetime | None, until: datetime) -> dict[str, str | None]:
    return {"start": since.isoformat() if since else None, "end": until.isoformat()}


def _rows(state: "State", sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
    cur = state.db.execute(sql, params or [])
    names = [c[0] for c in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur]


@dataclass(frozen=True)
class WindowCounts:
    """Every raw number of a report window; the report turns them into rates and percentiles."""

    detected: int  # issues first seen
    auto_fixed: tuple[int, ...]  # issues resolved through an agent deployment to production
    needs_human: int  # issues moved to needs_human (once per issue)
    fixes_attempted: int
    fixes_committed: int
    deploys_decided: int
    deploys_healthy: int
    deploys_rolled_back: int
    rollbacks_by_hand: int
    staging_rollbacks: int  # rolled back on staging, the commit never went to production
    regressions: int  # issues reopened
    mttr_s: tuple[float, ...]  # first seen -> resolved, for issues resolved in the window
    time_to_fix_s: tuple[float, ...]  # first seen -> first committed fix, for fixes committed in the window
    time_to_verify_s: tuple[float, ...]  # live -> decided, for deployments decided in the window
    llm_calls: int
    llm_cost_usd: float
    llm_input_tokens: int
    llm_output_tokens: int
    resolved_cost_usd: float  # every LLM call made for the auto-fixed issues, whenever it was made
    resolved_tokens: int
    top_issue_types: tuple[tuple[str, int], ...]  # (exception type, issues first seen), the five most
    evidence_mix: tuple[tuple[str, int], ...]  # (evidence, fixes live in production in the window)


def window(state: "State", since: datetime | None, until: datetime) -> WindowCounts:
    """The counts and durations of [since, until)."""
    p = _params(since, until)

    def one(sql: str) -> int:
        return int(state.db.execute(sql, p).fetchone()[0] or 0)

    def seconds(sql: str) -> tuple[float, ...]:
        return tuple(round(float(r[0]) * 86400, 3) for r in state.db.execute(sql, p) if r[0] is not None)

    # Resolved through an agent deployment: verify sets resolved_at when the fix is healthy in production.
    auto_fixed_sql = (f"SELECT i.id FROM issues i WHERE {_in('i.resolved_at')} AND EXISTS (SELECT 1 FROM deployments d WHERE "
                      "d.issue_id = i.id AND d.kind = 'deploy' AND d.env = 'production' AND d.status IN ('healthy', 'rolled_back', 'rollback_failed'))")
    auto_fixed = [int(r[0]) for r in state.db.execute(auto_fixed_sql, p)]
    deploys = f"kind = 'deploy' AND {_DECIDED} AND {_in('decided_at')}"
    llm = state.db.execute(
        f"SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) FROM llm_calls WHERE {_in('ts')}", p
    ).fetchone()
    resolved_cost, resolved_tokens = 0.0, 0
    if auto_fixed:
        marks = ",".join("?" * len(auto_fixed))
        cost, tokens = state.db.execute(
            f"SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens + output_tokens), 0) FROM llm_calls WHERE issue_id IN ({marks})", auto_fixed
        ).fetchone()
        resolved_cost, resolved_tokens = float(cost), int(tokens)
    types = state.db.execute(
        f"SELECT COALESCE(NULLIF(exception_type, ''), '(untyped)') AS t, COUNT(*) AS n FROM issues WHERE {_in('first_seen')} "
        "GROUP BY t ORDER BY n DESC, t LIMIT 5", p
    ).fetchall()
    evidence = state.db.execute(
        "SELECT COALESCE(f.evidence, 'unrecorded') AS e, COUNT(DISTINCT f.id) FROM fixes f JOIN deployments d ON d.fix_id = f.id "
        f"WHERE d.kind = 'deploy' AND d.env = 'production' AND {_in('d.live_at')} GROUP BY e ORDER BY e", p
    ).fetchall()
    return WindowCounts(
        detected=one(f"SELECT COUNT(*) FROM issues WHERE {_in('first_seen')}"),
        auto_fixed=tuple(auto_fixed),
        # Moved to needs_human in the window (the audit has the move and its time), counted once per issue.
        needs_human=one(f"SELECT COUNT(DISTINCT issue_id) FROM audit WHERE decision = 'status:needs_human' AND {_in('ts')}"),
        fixes_attempted=one(f"SELECT COUNT(*) FROM fixes WHERE {_ATTEMPTED} AND {_in('created_at')}"),
        fixes_committed=one(f"SELECT COUNT(*) FROM fixes WHERE {_COMMITTED} AND {_in('created_at')}"),
        deploys_decided=one(f"SELECT COUNT(*) FROM deployments WHERE {deploys}"),
        deploys_healthy=one(f"SELECT COUNT(*) FROM deployments WHERE {deploys} AND status = 'healthy'"),
        deploys_rolled_back=one(f"SELECT COUNT(*) FROM deployments WHERE {deploys} AND {_ROLLED_BACK}"),
        rollbacks_by_hand=one(f"SELECT COUNT(*) FROM deployments WHERE kind = 'rollback' AND {_in('started_at')}"),
        staging_rollbacks=one(
            f"SELECT COUNT(*) FROM deployments d WHERE d.kind = 'deploy' AND d.env = 'staging' AND d.status = 'rolled_back' AND {_in('d.decided_at')} "
            "AND NOT EXISTS (SELECT 1 FROM deployments p WHERE p.kind = 'deploy' AND p.env = 'production' AND p.fix_sha = d.fix_sha)"
        ),
        regressions=one(f"SELECT COUNT(*) FROM audit WHERE decision = 'reopened' AND {_in('ts')}"),
        mttr_s=seconds(f"SELECT julianday(resolved_at) - julianday(first_seen) FROM issues WHERE {_in('resolved_at')}"),
        time_to_fix_s=seconds(
            "SELECT julianday(f.created_at) - julianday(i.first_seen) FROM issues i JOIN "
            f"(SELECT issue_id, MIN(created_at) AS created_at FROM fixes WHERE {_COMMITTED} GROUP BY issue_id) f ON f.issue_id = i.id "
            f"WHERE {_in('f.created_at')}"
        ),
        time_to_verify_s=seconds(f"SELECT julianday(decided_at) - julianday(live_at) FROM deployments WHERE {deploys} AND live_at IS NOT NULL"),
        llm_calls=int(llm[0]), llm_cost_usd=float(llm[1]), llm_input_tokens=int(llm[2]), llm_output_tokens=int(llm[3]),
        resolved_cost_usd=resolved_cost, resolved_tokens=resolved_tokens,
        top_issue_types=tuple((t, int(n)) for t, n in types),
        evidence_mix=tuple((e, int(n)) for e, n in evidence),
    )


# The series the charts draw -----------------------------------------------------------------------------------

def first_activity(state: "State") -> datetime | None:
    """When the state's history starts: the earliest issue first seen or deployment started (UTC); None if neither."""
    first = state.db.execute("SELECT MIN(t) FROM (SELECT MIN(julianday(first_seen)) AS t FROM issues "
                             "UNION ALL SELECT MIN(julianday(started_at)) FROM deployments)").fetchone()[0]
    return None if first is None else datetime.fromtimestamp((float(first) - 2440587.5) * 86400, timezone.utc)


@dataclass(frozen=True)
class Detection:
    severity: str
    first_seen: str


@dataclass(frozen=True)
class Resolution:
    resolved_at: str
    seconds: float | None  # first seen -> resolved


@dataclass(frozen=True)
class DeploymentTimes:
    kind: str
    status: str
    started_at: str
    decided_at: str | None


def detections(state: "State") -> list[Detection]:
    """Every issue's severity and first_seen."""
    return [Detection(sev, first_seen) for sev, first_seen in state.db.execute("SELECT severity, first_seen FROM issues")]


def resolutions(state: "State") -> list[Resolution]:
    """Every resolved issue: when, and how long after it was first seen."""
    return [Resolution(resolved_at, seconds) for resolved_at, seconds in state.db.execute(
            "SELECT resolved_at, (julianday(resolved_at) - julianday(first_seen)) * 86400 FROM issues WHERE resolved_at IS NOT NULL")]


def deployment_times(state: "State") -> list[DeploymentTimes]:
    """Every deployment and rollback: its kind, status, start and decision."""
    return [DeploymentTimes(kind, status, started_at, decided_at)
            for kind, status, started_at, decided_at in state.db.execute("SELECT kind, status, started_at, decided_at FROM deployments")]


# Fixes shipped, with their verification -----------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One health sample of a deployment."""

    verdict: str | None
    ts: str
    error_rate: float | None
    latency_ms: float | None


def samples(state: "State", deployment_id: int) -> list[Sample]:
    """A deployment's health samples, oldest first."""
    return [Sample(verdict, ts, error_rate, latency_ms) for verdict, ts, error_rate, latency_ms in state.db.execute(
            "SELECT verdict, ts, error_rate, latency_ms FROM health_samples WHERE deployment_id = ? ORDER BY id", [deployment_id])]


@dataclass(frozen=True)
class ShippedFix:
    """A production deployment of a fix, with the fix and issue rows ({} when gone) and every release of the fix
    up to it (staging first, then this one), as plain rows."""

    deployment: dict[str, Any]
    fix: dict[str, Any]
    issue: dict[str, Any]
    releases: list[dict[str, Any]]


def fixes_shipped(state: "State", since: datetime | None, until: datetime) -> list[ShippedFix]:
    """Each fix that went live in production in [since, until), by live_at."""
    live = _rows(
        state,
        f"SELECT * FROM deployments WHERE kind = 'deploy' AND env = 'production' AND fix_id IS NOT NULL AND {_in('live_at')} ORDER BY live_at",
        _params(since, until),
    )
    shipped = []
    for dep in live:
        fix = _rows(state, "SELECT * FROM fixes WHERE id = ?", [dep["fix_id"]])
        issue = _rows(state, "SELECT * FROM issues WHERE id = ?", [dep["issue_id"]]) if dep["issue_id"] else []
        # Staging first, then this production deployment: every release of the same fix commit.
        releases = _rows(state, "SELECT * FROM deployments WHERE kind = 'deploy' AND fix_id = ? AND id <= ? ORDER BY id", [dep["fix_id"], dep["id"]])
        shipped.append(ShippedFix(dep, fix[0] if fix else {}, issue[0] if issue else {}, releases))
    return shipped


def incidents(state: "State", since: datetime | None, until: datetime) -> list[dict[str, Any]]:
    """The incident reports written in [since, until), oldest first."""
    return _rows(state, f"SELECT id, created_at, env, issue_id, deployment_id, path, body FROM incidents WHERE {_in('created_at')} ORDER BY created_at",
                 _params(since, until))


# Deploy counts (the rate limit, the dashboard) -----------------------------------------------------------------

def deploys_started_since(state: "State", since: str, *, including_failed: bool) -> int:
    """Deploys (not rollbacks) started at or after `since`; `including_failed=False` leaves out failed ones (the limit)."""
    if including_failed:
        sql = "SELECT COUNT(*) FROM deployments WHERE kind = 'deploy' AND started_at >= ?"
    else:
        sql = "SELECT COUNT(*) FROM deployments WHERE kind = 'deploy' AND status != 'failed' AND started_at >= ?"
    return int(state.db.execute(sql, [since]).fetchone()[0])


# Release measurement -------------------------------------------------------------------------------------------

def source_totals(state: "State", sources: list[str], since_minute: str = "") -> tuple[int, int]:
    """(lines, events) the scans counted in `sources` from minute `since_minute` ("%Y-%m-%dT%H:%M") on; "" is all."""
    if not sources:
        return 0, 0
    marks = ", ".join("?" for _ in sources)
    row = state.db.execute(f"SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(events), 0) FROM source_metrics WHERE source IN ({marks}) "
                           "AND minute >= ?", [*sources, since_minute]).fetchone()
    return int(row[0]), int(row[1])


def issue_event_times(state: "State", issue_id: int, sources: list[str]) -> list[str]:
    """The timestamps of the issue's events read from `sources`."""
    if not sources:
        return []
    marks = ", ".join("?" for _ in sources)
    return [ts for (ts,) in state.db.execute(f"SELECT ts FROM events WHERE issue_id = ? AND source IN ({marks})", [issue_id, *sources]).fetchall()]


def issues_with_culprit(state: "State", exclude: int | None) -> list[dict[str, Any]]:
    """id, title, culprit ("path:line") and first_seen of every issue with a culprit line, but `exclude`."""
    return _rows(state, "SELECT id, title, culprit, first_seen FROM issues WHERE culprit IS NOT NULL AND id IS NOT ?", [exclude])
