"""How much of each rate limit is used, counted twice: in the state's own records and in git (the agent's
trailers on the environment branches, its fix branches), so a fresh state (a CI cache miss, a new machine)
cannot exceed a limit. The larger count wins; `None` when neither can be read (policy then refuses)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent_cli import clock
from agent_cli.gitrepo import GitError, GitRepo
from agent_cli.store import metrics as store_metrics

if TYPE_CHECKING:
    from agent_cli.config import Settings
    from agent_cli.state import State

_SEP, _END = "\x1f", "\x1e"


def _since(hours: float) -> datetime:
    return clock.current().now() - timedelta(hours=hours)


def _agent_commits(git: GitRepo, ref: str, since: datetime) -> list[str]:
    """Messages of commits on `ref` committed after `since` that carry an agent trailer."""
    out = git.run("log", f"--since={since.isoformat()}", f"--format=%H{_SEP}%B{_END}", ref)
    return [m.split(_SEP, 1)[1] for m in out.split(_END) if _SEP in m and ("Agent-Issue:" in m or "Agent-Deploy-Env:" in m)]


def _remote_refs(git: GitRepo, settings: "Settings") -> list[str]:
    refs = []
    for env in settings.environments.values():
        if git.fetch_branch(env.remote, env.branch):
            refs.append(f"refs/remotes/{env.remote}/{env.branch}")
    return refs


def local_deploys_last_day(state: "State") -> int | None:
    try:
        return store_metrics.deploys_started_since(state, _since(24).isoformat(), including_failed=False)
    except Exception:  # noqa: BLE001 - an unreadable state must not lift the limit
        return None


def remote_deploys_last_day(settings: "Settings", git: GitRepo | None = None) -> int | None:
    """Agent deploys in the last 24 hours on the environment branches (fetched), rollbacks not counted."""
    since = _since(24)
    try:
        git = git or GitRepo.of(settings)
        return sum(1 for ref in _remote_refs(git, settings) for m in _agent_commits(git, ref, since) if "Agent-Rollback-Of:" not in m)
    except GitError:
        return None


def deploys_last_day(state: "State", settings: "Settings", git: GitRepo | None = None, *,
                     remote: int | None = None) -> tuple[int | None, dict[str, Any]]:
    """`remote`: a count already fetched this run (one fetch per run, not one per issue)."""
    local = local_deploys_last_day(state)
    if remote is None:
        remote = remote_deploys_last_day(settings, git)
    return _larger(local, remote), {"state": local, "git": remote}


def fixes_last_hour(state: "State", settings: "Settings", git: GitRepo | None = None) -> tuple[int | None, dict[str, Any]]:
    since = _since(1)
    local: int | None
    try:
        local = state.fixes_committed_last_hour()
    except Exception:  # noqa: BLE001
        local = None
    remote: int | None = None
    try:
        git = git or GitRepo.of(settings)
        out = git.run("for-each-ref", "--format=%(committerdate:iso-strict)", "refs/heads/agent/")
        remote = sum(1 for line in out.split() if line and datetime.fromisoformat(line) >= since)
    except (GitError, ValueError):
        remote = None
    return _larger(local, remote), {"state": local, "git": remote}


def _larger(a: int | None, b: int | None) -> int | None:
    known = [x for x in (a, b) if x is not None]
    return max(known) if known else None
