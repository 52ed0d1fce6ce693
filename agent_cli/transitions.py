"""The one place an issue's status changes: a table of legal moves, refused otherwise, audited with the move.

No step writes `issues.status` itself; each calls `move()` inside its own
transaction, so the status and its audit record commit (or roll back) together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_cli import audit, outbox
from agent_cli.errors import PolicyRefused
from agent_cli.state import utcnow
from agent_cli.store import issues as store_issues

if TYPE_CHECKING:
    from agent_cli.state import State

# from -> the statuses it may move to. A person (`issues resolve/ignore`) may close any open issue.
ALLOWED: dict[str, frozenset[str]] = {
    "detected": frozenset({"diagnosed", "needs_human", "resolved", "ignored"}),
    "diagnosed": frozenset({"diagnosed", "fix_ready", "needs_human", "resolved", "ignored", "detected"}),
    "fix_ready": frozenset({"fix_ready", "diagnosed", "awaiting_approval", "staging", "production", "needs_human", "resolved", "ignored",
                            "detected"}),
    "awaiting_approval": frozenset({"fix_ready", "staging", "production", "needs_human", "resolved", "ignored", "detected"}),
    "staging": frozenset({"fix_ready", "production", "rolled_back", "needs_human", "resolved", "ignored", "detected"}),
    "production": frozenset({"resolved", "rolled_back", "needs_human", "ignored", "detected", "staging"}),  # staging: its deploy failed
    # A recurrence reopens it as a regression; a responder may still roll its fix back.
    "resolved": frozenset({"detected", "ignored", "rolled_back"}),
    "rolled_back": frozenset({"diagnosed", "fix_ready", "needs_human", "resolved", "ignored", "detected"}),
    "needs_human": frozenset({"diagnosed", "fix_ready", "needs_human", "resolved", "ignored", "detected"}),
    "ignored": frozenset({"detected"}),  # only un-ignoring
}


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())


def move(state: "State", issue_id: int, target: str, *, step: str, reason: str, run_id: str | None = None,
         details: dict[str, Any] | None = None, expect: str | None = None) -> str:
    """Move issue `issue_id` to `target`; returns the status it had. Refuses (PolicyRefused, audited) an illegal move.

    `expect`: the status the caller read; if the issue moved since, the move is refused rather than clobbered.
    """
    refused = ""
    with state.transaction():
        current = store_issues.status(state, issue_id)
        if current is None:
            raise PolicyRefused(f"no issue {issue_id}", rule="issue.exists")
        if (expect is not None and current != expect) or not can_move(current, target):
            refused = f"issue {issue_id} is {current}; it cannot move to {target}"
            # Committed with the transaction, so the refusal stays on record when the caller's step fails.
            audit.record(state, step=step, decision="transition-refused", issue_id=issue_id, run_id=run_id,
                         reason=f"{refused} ({reason})", details={"from": current, "to": target, **(details or {})})
        else:
            store_issues.set_status(state, issue_id, target, reason[:1000], utcnow())
            record_id = audit.record(state, step=step, decision=f"status:{target}", issue_id=issue_id, run_id=run_id, reason=reason[:1000],
                                     details={"from": current, "to": target, **(details or {})})
            if target == "needs_human":  # one message per time it gets there
                found = store_issues.get(state, issue_id)
                outbox.record(state, "needs_human", issue_id=issue_id, title=found.title if found else f"issue {issue_id}",
                              message=f"issue {issue_id} needs a person: {reason[:500]}", key=f"needs_human:{issue_id}:{record_id}", run_id=run_id)
    if refused:
        raise PolicyRefused(refused, rule="issue.transition")
    return current
