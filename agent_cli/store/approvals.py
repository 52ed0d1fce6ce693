"""The approval queue's rows: dicts (they go to `agent approvals` and JSON as they are), `details` decoded.

The rules (a gate passes once, expiry, audit records) stay in `agent_cli.approvals`.
"""

from __future__ import annotations

import json
from typing import Any

from agent_cli.state import State


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["details"] = json.loads(row.get("details") or "{}")
    return row


def listed(state: State, *, include_decided: bool = False) -> list[dict[str, Any]]:
    """Pending rows (every row with `include_decided`), oldest first."""
    where = "" if include_decided else "WHERE status = 'pending'"
    return [_decode(r) for r in state.rows(f"SELECT * FROM approvals {where} ORDER BY id")]


def get(state: State, approval_id: int) -> dict[str, Any] | None:
    rows = state.rows("SELECT * FROM approvals WHERE id = ?", [approval_id])
    return _decode(rows[0]) if rows else None


def find_unused(state: State, issue_id: int | None, gate: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest row of this issue and gate in one of `statuses` and not yet used."""
    marks = ", ".join("?" for _ in statuses)
    rows = state.rows(f"SELECT * FROM approvals WHERE issue_id IS ? AND gate = ? AND status IN ({marks}) AND consumed_at IS NULL "
                      "ORDER BY id DESC LIMIT 1", [issue_id, gate, *statuses])
    return _decode(rows[0]) if rows else None


def overdue(state: State, now: str) -> list[dict[str, Any]]:
    """Pending rows whose expiry is before `now`, as stored (`details` left as its JSON text)."""
    return state.rows("SELECT * FROM approvals WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at < ?", [now])


def insert(state: State, *, issue_id: int | None, gate: str, reason: str, requested_at: str, expires_at: str, details: str,
           deployment_id: int | None) -> int:
    """A new pending row for `gate` (`details` already JSON); its id."""
    with state.transaction() as db:
        cur = db.execute("INSERT INTO approvals(issue_id, action, gate, status, reason, requested_at, expires_at, details, deployment_id) "
                         "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                         [issue_id, gate, gate, reason, requested_at, expires_at, details, deployment_id])
        return int(cur.lastrowid or 0)


def set_decision(state: State, approval_id: int, *, status: str, decided_at: str, decided_by: str, reason: str) -> None:
    with state.transaction() as db:
        db.execute("UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, decision_reason = ? WHERE id = ?",
                   [status, decided_at, decided_by, reason, approval_id])


def mark_consumed(state: State, approval_id: int, at: str) -> None:
    with state.transaction() as db:
        db.execute("UPDATE approvals SET consumed_at = ? WHERE id = ?", [at, approval_id])
