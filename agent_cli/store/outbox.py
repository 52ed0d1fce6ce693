"""The outbox: domain events waiting to be notified (agent_cli.outbox records and drains them)."""

from __future__ import annotations

from typing import Any

from agent_cli.state import State


def add(state: State, *, ts: str, run_id: str | None, event: str, issue_id: int | None, title: str, message: str, dedupe_key: str) -> int:
    with state.transaction() as db:
        cur = db.execute(
            "INSERT INTO outbox(ts, run_id, event, issue_id, title, message, dedupe_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [ts, run_id, event, issue_id, title, message, dedupe_key],
        )
    assert cur.lastrowid is not None
    return cur.lastrowid


def unsent(state: State, limit: int = 200) -> list[dict[str, Any]]:
    """Oldest first."""
    return state.rows("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?", [limit])


def mark_sent(state: State, outbox_id: int, ts: str) -> None:
    with state.transaction() as db:
        db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", [ts, outbox_id])
