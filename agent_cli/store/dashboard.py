"""The dashboard's read model (`agent status`): what is live, waiting or new right now. Reads only.

Rows are plain dicts: `agent status --json` prints them as they are. A deployment's samples and the deploys
started today are `agent_cli.store.metrics` (`samples`, `deploys_started_since`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_cli.state import State


def _rows(state: "State", sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = state.db.execute(sql, params or [])
    names = [c[0] for c in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur]


def _count(state: "State", sql: str) -> int:
    return int(state.db.execute(sql).fetchone()[0])


def active_deployments(state: "State") -> int:
    """Deployments deploying or monitoring."""
    return _count(state, "SELECT COUNT(*) FROM deployments WHERE status IN ('deploying', 'monitoring')")


def watched_deployments(state: "State") -> list[dict[str, Any]]:
    """id, env, issue_id, status, sha, live_at, reason of deployments being watched or held for a person, oldest first."""
    return _rows(state, "SELECT id, env, issue_id, status, sha, live_at, reason "
                        "FROM deployments WHERE status IN ('deploying', 'monitoring', 'inconclusive', 'rollback_failed') ORDER BY id")


def pending_approvals(state: "State") -> list[dict[str, Any]]:
    """The first ten pending approvals: id, issue_id, gate, reason, expires_at."""
    return _rows(state, "SELECT id, issue_id, gate, reason, expires_at FROM approvals WHERE status = 'pending' ORDER BY id LIMIT 10")


def pending_approval_count(state: "State") -> int:
    return _count(state, "SELECT COUNT(*) FROM approvals WHERE status = 'pending'")


def newest_issues(state: "State") -> list[dict[str, Any]]:
    """The five newest issues: id, severity, status, count, last_seen, title."""
    return _rows(state, "SELECT id, severity, status, count, last_seen, title FROM issues ORDER BY id DESC LIMIT 5")


def last_good_run(state: "State") -> str | None:
    """finished_at of the newest `agent run` that exited 0; None if none has."""
    rows = _rows(state, "SELECT finished_at FROM runs WHERE command = 'run' AND exit_code = 0 AND finished_at IS NOT NULL "
                        "ORDER BY finished_at DESC LIMIT 1")
    return rows[0]["finished_at"] if rows else None
