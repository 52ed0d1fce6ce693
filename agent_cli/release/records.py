"""Reads and writes of deployment rows and their samples (status changes go through `states.move_deployment`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agent_cli.state import utcnow

if TYPE_CHECKING:
    from agent_cli.state import State

_JSON = ("baseline", "rollback_of")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def deployment(state: "State", deployment_id: int) -> dict[str, Any]:
    rows = state.rows("SELECT * FROM deployments WHERE id = ?", [deployment_id])
    return _decode(rows[0])


def deployments(state: "State", where: str = "1", params: list[Any] | None = None, *, newest_first: bool = False,
                limit: int | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM deployments WHERE {where} ORDER BY id {'DESC' if newest_first else 'ASC'}" + (f" LIMIT {int(limit)}" if limit else "")
    return [_decode(r) for r in state.rows(sql, params or [])]


def active(state: "State", env: str | None = None) -> list[dict[str, Any]]:
    if env:
        return deployments(state, "status IN ('deploying', 'monitoring') AND env = ?", [env])
    return deployments(state, "status IN ('deploying', 'monitoring')")


def create(state: "State", *, kind: str, env: str, branch: str, remote: str, issue_id: int | None, fix_id: int | None,
           fix_sha: str | None, previous_sha: str | None, baseline: dict[str, Any], run_id: str, status: str = "deploying",
           reason: str = "") -> int:
    with state.transaction() as db:
        cur = db.execute(
            "INSERT INTO deployments(kind, env, branch, remote, issue_id, fix_id, fix_sha, previous_sha, status, started_at, baseline, run_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [kind, env, branch, remote, issue_id, fix_id, fix_sha, previous_sha, status, utcnow(), json.dumps(baseline), run_id, reason],
        )
        return int(cur.lastrowid or 0)


def update(state: "State", deployment_id: int, **values: Any) -> None:
    """Fields other than status (the sha once pushed, the baseline once live)."""
    assert "status" not in values, "status moves through states.move_deployment"
    encoded = {k: json.dumps(v) if k in _JSON else v for k, v in values.items()}
    sets = ", ".join(f"{k} = ?" for k in encoded)
    with state.transaction() as db:
        db.execute(f"UPDATE deployments SET {sets} WHERE id = ?", [*encoded.values(), deployment_id])


def add_sample(state: "State", deployment_id: int, verdict: str, checks: list[dict[str, Any]]) -> None:
    """One sample; the counters and the last sample's time are read back from the samples, never stored twice."""
    health = [c for c in checks if c["check"] == "health"]
    rate = next((c for c in checks if c["check"] == "error_rate"), None)
    first = health[0]["numbers"] if health else {}
    stamp = utcnow()
    with state.transaction() as db:
        db.execute(
            "INSERT INTO health_samples(deployment_id, ts, ok, http_status, latency_ms, error_rate, error, verdict, checks) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [deployment_id, stamp, int(verdict == "successful"), first.get("status"), first.get("latency_ms"),
             rate["numbers"]["rate"] if rate else None, "; ".join(c["detail"] for c in checks if c["verdict"] != "successful")[:1000] or None,
             verdict, json.dumps(checks)],
        )


def last_sample_at(state: "State", deployment_id: int) -> str | None:
    row = state.db.execute("SELECT MAX(ts) FROM health_samples WHERE deployment_id = ?", [deployment_id]).fetchone()
    return row[0] if row else None


def samples(state: "State", deployment_id: int) -> list[dict[str, Any]]:
    rows = state.rows("SELECT * FROM health_samples WHERE deployment_id = ? ORDER BY id", [deployment_id])
    for r in rows:
        r["checks"] = json.loads(r["checks"] or "[]")
    return rows


def add_incident(state: "State", *, deployment_id: int | None, issue_id: int | None, env: str, path: str, body: str) -> int:
    with state.transaction() as db:
        cur = db.execute("INSERT INTO incidents(deployment_id, issue_id, created_at, env, path, body) VALUES (?, ?, ?, ?, ?, ?)",
                         [deployment_id, issue_id, utcnow(), env, path, body])
        return int(cur.lastrowid or 0)
