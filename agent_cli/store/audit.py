"""The audit table's reads and its one insert (the table is append-only: triggers refuse UPDATE and DELETE).

The chain's hashing and its verification stay in `agent_cli.audit`.
"""

from __future__ import annotations

from typing import Any

from agent_cli.state import State


def last_link(state: State) -> tuple[int, str] | None:
    """(id, hash) of the newest row, or None for an empty log; read inside the caller's transaction."""
    last = state.db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (int(last[0]), last[1]) if last else None


def append(state: State, row: dict[str, Any]) -> None:
    """One row: id, ts, run_id, issue_id, step, decision, reason, details (JSON text), prev_hash, hash."""
    with state.transaction() as db:
        db.execute(
            "INSERT INTO audit(id, ts, run_id, issue_id, step, decision, reason, details, prev_hash, hash) "
            "VALUES (:id, :ts, :run_id, :issue_id, :step, :decision, :reason, :details, :prev_hash, :hash)",
            row,
        )


def chain(state: State) -> list[dict[str, Any]]:
    """Every row, in id order, with the columns that are hashed and the two hashes."""
    return state.rows("SELECT id, ts, run_id, issue_id, step, decision, reason, details, prev_hash, hash FROM audit ORDER BY id")


def timeline(state: State, issue_id: int) -> list[dict[str, Any]]:
    """An issue's records, oldest first (`details` as its JSON text)."""
    return state.rows("SELECT id, ts, step, decision, reason, details FROM audit WHERE issue_id = ? ORDER BY id", [issue_id])
