"""The hash-chained, append-only audit log.

Each row's hash is sha256(previous row's hash + canonical JSON of the row), so
editing, deleting or splicing a row breaks the chain from that row on. The head
(last id and hash) is also kept in `settings`, so removing rows from the end is
caught too. SQLite triggers refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from agent_cli.state import State, utcnow
from agent_cli.store import audit as store

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
_FIELDS = ("id", "ts", "run_id", "issue_id", "step", "decision", "reason", "details")


def canonical(row: dict[str, Any]) -> str:
    return json.dumps({k: row[k] for k in _FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def record(
    state: State,
    *,
    step: str,
    decision: str,
    reason: str,
    issue_id: int | None = None,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> int:
    """Append one audited decision; returns its id. Joins an open transaction."""
    with state.transaction():
        prev_id, prev_hash = store.last_link(state) or (0, GENESIS)
        new_id = prev_id + 1
        row = {
            "id": new_id,
            "ts": utcnow(),
            "run_id": run_id,
            "issue_id": issue_id,
            "step": step,
            "decision": decision,
            "reason": reason,
            "details": json.dumps(details or {}, sort_keys=True, default=str),
        }
        row_hash = chain_hash(prev_hash, row)
        store.append(state, {**row, "prev_hash": prev_hash, "hash": row_hash})
        state.set_setting(HEAD_KEY, {"id": new_id, "hash": row_hash})
    return new_id


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_id: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "bad_id": self.bad_id, "problem": self.problem}


def verify(state: State) -> VerifyResult:
    """Walk the chain; report the first row that does not belong to it."""
    prev_id, prev_hash, checked = 0, GENESIS, 0
    for row in store.chain(state):
        if row["id"] != prev_id + 1:
            return VerifyResult(False, checked, prev_id + 1, f"row {prev_id + 1} is missing (deleted); next row is {row['id']}")
        if row["prev_hash"] != prev_hash:
            return VerifyResult(False, checked, row["id"], f"row {row['id']} does not link to row {prev_id} (inserted out of chain or its predecessor changed)")
        if chain_hash(prev_hash, row) != row["hash"]:
            return VerifyResult(False, checked, row["id"], f"row {row['id']} was edited: its contents do not match its hash")
        prev_id, prev_hash, checked = row["id"], row["hash"], checked + 1
    head = state.get_setting(HEAD_KEY)
    if head is None and checked:
        return VerifyResult(False, checked, prev_id, "the chain head record is missing")
    if head is not None and (head.get("id"), head.get("hash")) != (prev_id, prev_hash):
        return VerifyResult(
            False, checked, head.get("id"),
            f"the chain ends at row {prev_id} but its head records row {head.get('id')} (rows removed from or added to the end)",
        )
    return VerifyResult(True, checked)


def timeline(state: State, issue_id: int) -> list[dict[str, Any]]:
    return store.timeline(state, issue_id)
