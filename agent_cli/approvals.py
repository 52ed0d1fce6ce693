"""The human approval queue: a gate that needs a person gets a row; a person approves or rejects it; an approval
passes its gate exactly once; a row past its expiry is rejected (and audited).

Gates: `fix`, `deploy:<env>`, `verify` (an inconclusive window: approve promotes, reject rolls back) and
`cancel_window` (a notify-band fix waiting out cancel_window_s: it lapses into "go" unless cancelled).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agent_cli import audit, clock, outbox
from agent_cli.errors import ConfigError, PolicyRefused
from agent_cli.state import utcnow
from agent_cli.store import approvals as store

if TYPE_CHECKING:
    from agent_cli.state import State

OPEN = "pending"


def list_approvals(state: "State", *, include_decided: bool = False) -> list[dict[str, Any]]:
    return store.listed(state, include_decided=include_decided)


def get(state: "State", approval_id: int) -> dict[str, Any]:
    row = store.get(state, approval_id)
    if row is None:
        raise ConfigError(f"no approval {approval_id} (see `agent approvals`)")
    return row


def find(state: "State", issue_id: int | None, gate: str, statuses: tuple[str, ...] = (OPEN,)) -> dict[str, Any] | None:
    return store.find_unused(state, issue_id, gate, statuses)


def request(state: "State", *, issue_id: int | None, gate: str, reason: str, details: dict[str, Any], expires_in_s: float,
            run_id: str | None, deployment_id: int | None = None) -> tuple[dict[str, Any], bool]:
    """The pending row for this gate, made if there is none; (row, created)."""
    existing = find(state, issue_id, gate)
    if existing:
        return existing, False
    expires = (clock.current().now() + timedelta(seconds=expires_in_s)).isoformat()
    with state.transaction():
        approval_id = store.insert(state, issue_id=issue_id, gate=gate, reason=reason[:1000], requested_at=utcnow(), expires_at=expires,
                                   details=json.dumps(details, default=str), deployment_id=deployment_id)
        audit.record(state, step="approvals", decision="approval-requested", issue_id=issue_id, run_id=run_id, reason=f"{gate}: {reason}"[:1000],
                     details={"approval": approval_id, "gate": gate, "expires_at": expires, **details})
        title = f"approval {approval_id}: {gate}" + (f" for issue {issue_id}" if issue_id else "")
        outbox.record(state, "approval_needed", issue_id=issue_id, title=title, message=f"approval {approval_id} ({gate}): {reason}"[:1000],
                      key=f"approval:{approval_id}", run_id=run_id)
    return get(state, approval_id), True


def decide(state: "State", approval_id: int, *, approve: bool, by: str, note: str, run_id: str | None) -> dict[str, Any]:
    row = get(state, approval_id)
    if row["status"] != OPEN:
        raise PolicyRefused(f"approval {approval_id} is {row['status']}, not pending", rule="approval.pending")
    if row["expires_at"] and row["expires_at"] < utcnow():
        expire(state, run_id=run_id)
        raise PolicyRefused(f"approval {approval_id} expired at {row['expires_at']}", rule="approval.expired")
    status = "approved" if approve else "rejected"
    with state.transaction():
        store.set_decision(state, approval_id, status=status, decided_at=utcnow(), decided_by=by, reason=note[:1000])
        audit.record(state, step="approvals", decision=status, issue_id=row["issue_id"], run_id=run_id,
                     reason=f"{row['gate']} {status} by {by}" + (f": {note}" if note else ""), details={"approval": approval_id, "by": by})
    return get(state, approval_id)


def consume(state: "State", issue_id: int | None, gate: str, *, run_id: str | None,
            statuses: tuple[str, ...] = ("approved",)) -> dict[str, Any] | None:
    """An approved (or other decided), unused row for this gate, now used: it passes the gate once. None if there is none."""
    row = find(state, issue_id, gate, statuses)
    if row is None:
        return None
    with state.transaction():
        store.mark_consumed(state, row["id"], utcnow())
        audit.record(state, step="approvals", decision="approval-used", issue_id=issue_id, run_id=run_id,
                     reason=f"{gate}: {row['status']} approval {row['id']} ({row['decided_by']}) used", details={"approval": row["id"]})
    return row


def expire(state: "State", *, run_id: str | None) -> list[dict[str, Any]]:
    """Pending rows past their expiry: rejected (a cancel window that ran out lapses, which lets its fix go)."""
    now = utcnow()
    done = []
    for row in store.overdue(state, now):
        status = "lapsed" if row["gate"] == "cancel_window" else "expired"
        with state.transaction():
            store.set_decision(state, row["id"], status=status, decided_at=now, decided_by="agent", reason=f"no decision by {row['expires_at']}")
            audit.record(state, step="approvals", decision=status, issue_id=row["issue_id"], run_id=run_id,
                         reason=f"{row['gate']}: no decision by {row['expires_at']}" + ("; the fix may ship" if status == "lapsed" else "; rejected"),
                         details={"approval": row["id"]})
        done.append({**row, "status": status})
    return done


def cancel_fix(state: "State", issue_id: int, *, by: str, note: str, run_id: str | None) -> dict[str, Any]:
    """`agent cancel`: the issue's fix waiting out its cancel window is stopped (its window row rejected)."""
    row = find(state, issue_id, "cancel_window")
    if row is None:
        raise ConfigError(f"no fix of issue {issue_id} is waiting out a cancel window (see `agent approvals`)")
    return decide(state, row["id"], approve=False, by=by, note=note or "cancelled", run_id=run_id)
