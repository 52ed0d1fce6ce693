"""The one place a deployment's status changes, audited with its reason and numbers.

deploying -> monitoring -> healthy | degraded | inconclusive -> rolled_back | rollback_failed,
and deploying -> failed when the deploy itself did not complete (nothing left half-done).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agent_cli import audit
from agent_cli.errors import PolicyRefused
from agent_cli.state import utcnow
from agent_cli.store import deployments

if TYPE_CHECKING:
    from agent_cli.state import State

ACTIVE = ("deploying", "monitoring")
DECIDED = ("healthy", "degraded", "inconclusive")
ALLOWED: dict[str, frozenset[str]] = {
    "deploying": frozenset({"monitoring", "failed"}),
    "monitoring": frozenset({"healthy", "degraded", "inconclusive", "rolled_back", "rollback_failed"}),
    "healthy": frozenset({"rolled_back", "rollback_failed"}),
    "degraded": frozenset({"rolled_back", "rollback_failed"}),
    # A person looks at an inconclusive window: promote it (healthy) or roll it back.
    "inconclusive": frozenset({"healthy", "rolled_back", "rollback_failed"}),
    "rollback_failed": frozenset({"rolled_back", "rollback_failed"}),
    "rolled_back": frozenset(),
    "failed": frozenset(),
}


def move_deployment(state: "State", deployment_id: int, target: str, *, step: str, reason: str, run_id: str | None,
                    details: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> str:
    """Move deployment `deployment_id` to `target`, writing `fields` with it; returns the status it had."""
    refused = ""
    with state.transaction():
        row = deployments.transition_facts(state, deployment_id)
        if row is None:
            raise PolicyRefused(f"no deployment {deployment_id}", rule="deployment.exists")
        current, issue_id, env = row
        if target not in ALLOWED.get(current, frozenset()):
            refused = f"deployment {deployment_id} is {current}; it cannot move to {target}"
            audit.record(state, step=step, decision="deployment-transition-refused", issue_id=issue_id, run_id=run_id,
                         reason=f"{refused} ({reason})", details={"deployment": deployment_id, "from": current, "to": target})
        else:
            values = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in (fields or {}).items()}
            values.update(status=target, reason=reason[:1000])
            if target not in ACTIVE:
                values.setdefault("decided_at", utcnow())
            deployments.write_status(state, deployment_id, values)
            audit.record(state, step=step, decision=f"deployment:{target}", issue_id=issue_id, run_id=run_id, reason=reason[:1000],
                         details={"deployment": deployment_id, "env": env, "from": current, "to": target, **(details or {})})
    if refused:
        raise PolicyRefused(refused, rule="deployment.transition")
    return current
