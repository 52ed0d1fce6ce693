"""Deployments, their health samples and incident reports.

Rows are dicts (they go to JSON, incident reports and `agent show` as they are), with `baseline` and
`rollback_of` decoded. A deployment's status is written by `write_status` alone, which only
`agent_cli.release.states.move_deployment` calls (it checks the move and audits it); `update` refuses it.
"""

from __future__ import annotations

import json
from typing import Any

from agent_cli.state import State, utcnow

ACTIVE = ("deploying", "monitoring")
_JSON = ("baseline", "rollback_of")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


# ---- deployments: reads ---------------------------------------------------------------------------


def get(state: State, deployment_id: int) -> dict[str, Any]:
    """Deployment `deployment_id` (IndexError if there is none)."""
    rows = state.rows("SELECT * FROM deployments WHERE id = ?", [deployment_id])
    return _decode(rows[0])


def matching(state: State, where: str = "1", params: list[Any] | None = None, *, newest_first: bool = False,
             limit: int | None = None) -> list[dict[str, Any]]:
    """Deployments matching a WHERE fragment, oldest first. For callers not yet moved to a named read below."""
    sql = f"SELECT * FROM deployments WHERE {where} ORDER BY id {'DESC' if newest_first else 'ASC'}" + (f" LIMIT {int(limit)}" if limit else "")
    return [_decode(r) for r in state.rows(sql, params or [])]


def of_issue(state: State, issue_id: int) -> list[dict[str, Any]]:
    """The issue's deployments and rollbacks, oldest first (`baseline` and `rollback_of` decoded)."""
    return matching(state, "issue_id = ?", [issue_id])


def active(state: State, env: str | None = None) -> list[dict[str, Any]]:
    """Deployments deploying or monitoring (in `env`, if given), oldest first."""
    if env:
        return matching(state, "status IN ('deploying', 'monitoring') AND env = ?", [env])
    return matching(state, "status IN ('deploying', 'monitoring')")


def with_status(state: State, status: str, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Deployments in `status` (of `kind`, if given: 'deploy' or 'rollback'), oldest first."""
    if kind:
        return matching(state, "status = ? AND kind = ?", [status, kind])
    return matching(state, "status = ?", [status])


def healthy_on_staging(state: State, issue_id: int, fix_sha: str) -> list[dict[str, Any]]:
    """Staging deployments of this fix of this issue that were decided healthy."""
    return matching(state, "issue_id = ? AND env = 'staging' AND fix_sha = ? AND status = 'healthy'", [issue_id, fix_sha])


def last_deployed(state: State, env: str) -> dict[str, Any] | None:
    """The newest agent deployment in `env` that was pushed (has a sha) and did not fail."""
    rows = matching(state, "kind = 'deploy' AND env = ? AND sha IS NOT NULL AND status != 'failed'", [env], newest_first=True, limit=1)
    return rows[0] if rows else None


def not_undone(state: State, env: str) -> list[dict[str, Any]]:
    """Agent deployments in `env` neither rolled back nor failed, oldest first."""
    return matching(state, "kind = 'deploy' AND env = ? AND status NOT IN ('rolled_back', 'failed')", [env])


def transition_facts(state: State, deployment_id: int) -> tuple[str, int | None, str] | None:
    """(status, issue_id, env) of a deployment, or None; read inside the caller's transaction."""
    row = state.db.execute("SELECT status, issue_id, env FROM deployments WHERE id = ?", [deployment_id]).fetchone()
    return (row[0], row[1], row[2]) if row is not None else None


# ---- deployments: writes --------------------------------------------------------------------------


def create(state: State, *, kind: str, env: str, branch: str, remote: str, issue_id: int | None, fix_id: int | None,
           fix_sha: str | None, previous_sha: str | None, baseline: dict[str, Any], run_id: str, status: str = "deploying",
           reason: str = "", started_at: str | None = None) -> int:
    """A new deployment row; its id."""
    with state.transaction() as db:
        cur = db.execute(
            "INSERT INTO deployments(kind, env, branch, remote, issue_id, fix_id, fix_sha, previous_sha, status, started_at, baseline, run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [kind, env, branch, remote, issue_id, fix_id, fix_sha, previous_sha, status, started_at or utcnow(), json.dumps(baseline), run_id, reason],
        )
        return int(cur.lastrowid or 0)


def _set(state: State, deployment_id: int, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    with state.transaction() as db:
        db.execute(f"UPDATE deployments SET {sets} WHERE id = ?", [*values.values(), deployment_id])


def update(state: State, deployment_id: int, **values: Any) -> None:
    """Fields other than status (the sha once pushed, the baseline once live)."""
    assert "status" not in values, "status moves through states.move_deployment"
    _set(state, deployment_id, {k: json.dumps(v) if k in _JSON else v for k, v in values.items()})


def write_status(state: State, deployment_id: int, values: dict[str, Any]) -> None:
    """The status (and the fields that go with it, already encoded). Called by `release.states.move_deployment` only."""
    assert "status" in values, "write_status writes a status"
    _set(state, deployment_id, values)


# ---- what a deployment's outcome writes on its issue ------------------------------------------------


def count_issue_rollback(state: State, issue_id: int) -> int:
    """One more rollback counted on the issue whose fix was rolled back; the issue's rollbacks now."""
    with state.transaction() as db:
        db.execute("UPDATE issues SET rollbacks = rollbacks + 1 WHERE id = ?", [issue_id])
        return int(db.execute("SELECT rollbacks FROM issues WHERE id = ?", [issue_id]).fetchone()[0])


def mark_issue_resolved(state: State, issue_id: int, *, resolved_at: str, watch_until: str) -> None:
    """The issue whose fix was verified healthy in production: when, and how long recurrences count as regressions."""
    with state.transaction() as db:
        db.execute("UPDATE issues SET resolved_at = ?, watch_until = ? WHERE id = ?", [resolved_at, watch_until, issue_id])


# ---- health samples -------------------------------------------------------------------------------


def add_sample(state: State, deployment_id: int, verdict: str, checks: list[dict[str, Any]], *, ts: str | None = None) -> None:
    """One sample; the counters and the last sample's time are read back from the samples, never stored twice."""
    health = [c for c in checks if c["check"] == "health"]
    rate = next((c for c in checks if c["check"] == "error_rate"), None)
    first = health[0]["numbers"] if health else {}
    stamp = ts or utcnow()
    with state.transaction() as db:
        db.execute(
            "INSERT INTO health_samples(deployment_id, ts, ok, http_status, latency_ms, error_rate, error, verdict, checks) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [deployment_id, stamp, int(verdict == "successful"), first.get("status"), first.get("latency_ms"),
             rate["numbers"]["rate"] if rate else None, "; ".join(c["detail"] for c in checks if c["verdict"] != "successful")[:1000] or None,
             verdict, json.dumps(checks)],
        )


def last_sample_at(state: State, deployment_id: int) -> str | None:
    row = state.db.execute("SELECT MAX(ts) FROM health_samples WHERE deployment_id = ?", [deployment_id]).fetchone()
    return row[0] if row else None


def samples(state: State, deployment_id: int) -> list[dict[str, Any]]:
    """Every sample of a deployment, oldest first, `checks` decoded."""
    rows = state.rows("SELECT * FROM health_samples WHERE deployment_id = ? ORDER BY id", [deployment_id])
    for r in rows:
        r["checks"] = json.loads(r["checks"] or "[]")
    return rows


# ---- incidents ------------------------------------------------------------------------------------


def add_incident(state: State, *, deployment_id: int | None, issue_id: int | None, env: str, path: str, body: str,
                 created_at: str | None = None) -> int:
    with state.transaction() as db:
        cur = db.execute("INSERT INTO incidents(deployment_id, issue_id, created_at, env, path, body) VALUES (?, ?, ?, ?, ?, ?)",
                         [deployment_id, issue_id, created_at or utcnow(), env, path, body])
        return int(cur.lastrowid or 0)
