"""Deployment rows and their samples, as the release steps have always read them: a thin layer over
`agent_cli.store.deployments`, where the SQL lives (status changes go through `states.move_deployment`).

Writes are stamped here with this module's clock (`utcnow`), which tests set to write history at chosen times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_cli.state import utcnow
from agent_cli.store import deployments as store
from agent_cli.store.deployments import active, last_sample_at, samples, update

if TYPE_CHECKING:
    from agent_cli.state import State

__all__ = ["active", "add_incident", "add_sample", "create", "deployment", "deployments", "last_sample_at", "samples", "update"]

deployment = store.get
deployments = store.matching


def create(state: "State", *, kind: str, env: str, branch: str, remote: str, issue_id: int | None, fix_id: int | None,
           fix_sha: str | None, previous_sha: str | None, baseline: dict[str, Any], run_id: str, status: str = "deploying",
           reason: str = "") -> int:
    return store.create(state, kind=kind, env=env, branch=branch, remote=remote, issue_id=issue_id, fix_id=fix_id, fix_sha=fix_sha,
                        previous_sha=previous_sha, baseline=baseline, run_id=run_id, status=status, reason=reason, started_at=utcnow())


def add_sample(state: "State", deployment_id: int, verdict: str, checks: list[dict[str, Any]]) -> None:
    store.add_sample(state, deployment_id, verdict, checks, ts=utcnow())


def add_incident(state: "State", *, deployment_id: int | None, issue_id: int | None, env: str, path: str, body: str) -> int:
    return store.add_incident(state, deployment_id=deployment_id, issue_id=issue_id, env=env, path=path, body=body, created_at=utcnow())
