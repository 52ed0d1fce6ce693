"""Rollback: the deployed commits reverted on the environment branch, pushed forward, the environment checked back.

Automatic (verify saw a degradation) or by a responder (`agent rollback`, `--to REF`,
commits pushed by hand included). Never a force-push unless `--strategy reset`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_cli import clock, gates, outbox, transitions
from agent_cli.controls import pause_state
from agent_cli.errors import ConfigError, PolicyRefused, StepFailed
from agent_cli.gitrepo import GitRepo
from agent_cli.release import branch, measure, shell
from agent_cli.release.incident import write_incident
from agent_cli.release.states import move_deployment
from agent_cli.store import deployments
from agent_cli.store import issues as store_issues

if TYPE_CHECKING:
    from agent_cli.runner import Run

ROLLED_BACK_STATUSES = ("rolled_back",)
_POLL_S = 1.0


def _after_push(run: "Run", env_name: str, sha: str, base: dict[str, Any]) -> tuple[bool, str, list[dict[str, Any]]]:
    """The environment told (rollback_command, else deploy_command) and watched until it is back at its baseline."""
    env = run.settings.environment(env_name)
    command = env.rollback_command or env.deploy_command
    if command:
        outcome = shell.run(shell.expand(command, sha=sha, branch=env.branch, env=env_name), cwd=run.settings.repo_path,
                            timeout_s=env.deploy_timeout_s)
        if not outcome.ok:
            return False, f"rollback command failed: {outcome.describe()}", []
    if not env.health_urls:
        return True, "reverted; no health URLs to check", []
    deadline = clock.current().monotonic() + env.rollback_verify_s
    while True:
        back, checks = measure.environment_back(env, base)
        if back:
            return True, "health back at baseline: " + "; ".join(c.detail for c in checks), [c.as_dict() for c in checks]
        if clock.current().monotonic() >= deadline:
            return False, "health not back within rollback_verify_s: " + "; ".join(c.detail for c in checks), [c.as_dict() for c in checks]
        clock.current().sleep(_POLL_S)


def rollback_deployment(run: "Run", deployment_id: int, *, reason: str, step: str, strategy: str = "revert",
                        trigger: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Revert deployment `deployment_id` on its branch; record it, move the issue, write the incident report."""
    settings, state = run.settings, run.state
    dep = deployments.get(state, deployment_id)
    env = settings.environment(dep["env"])
    git = GitRepo.of(settings)
    if not dep["sha"] or not dep["previous_sha"]:
        raise StepFailed(f"deployment {deployment_id} has no previous head to go back to")
    shas = branch.deployed_commits(git, dep["previous_sha"], dep["sha"])
    title = f"Revert deployment {deployment_id} to {dep['env']}" + (f" (issue #{dep['issue_id']})" if dep["issue_id"] else "")
    message = branch.revert_message(title, reason, shas, dep["env"])
    try:
        if strategy == "reset":
            current = branch.head(git, env) or ""
            pushed = branch.reset_to(git, env, dep["previous_sha"], current, what="rollback")
        else:
            pushed = branch.push_change(settings, git, env, branch.undo_commits(shas, message, settings), what="rollback")
    except StepFailed as exc:
        _finish(run, dep, ok=False, reason=f"{reason}; revert not pushed: {exc.message}", step=step, checks=[], trigger=trigger, sha=None,
                reverted=shas)
        raise
    ok, how, checks = _after_push(run, dep["env"], pushed.sha, dep["baseline"])
    result = _finish(run, dep, ok=ok, reason=f"{reason}; {how}", step=step, checks=checks, trigger=trigger, sha=pushed.sha, reverted=shas)
    if not ok:
        raise StepFailed(f"rollback of deployment {deployment_id} pushed ({pushed.sha[:12]}) but {how}")
    return result


def _finish(run: "Run", dep: dict[str, Any], *, ok: bool, reason: str, step: str, checks: list[dict[str, Any]],
            trigger: list[dict[str, Any]] | None, sha: str | None, reverted: list[str]) -> dict[str, Any]:
    state = run.state
    target = "rolled_back" if ok else "rollback_failed"
    move_deployment(state, dep["id"], target, step=step, reason=reason, run_id=run.run_id,
                    details={"checks": checks, "trigger": (trigger or [])[-5:], "rollback_sha": sha, "reverted": reverted},
                    fields={"rollback_sha": sha, "rollback_of": reverted} if sha else {"rollback_of": reverted})
    issue_status = None
    if dep["issue_id"] and ok:
        issue_status = _issue_rolled_back(run, dep["issue_id"], reason, step)
    dep = deployments.get(state, dep["id"])
    path = write_incident(run, dep, deployments.samples(state, dep["id"]), reason=reason, outcome=target, issue_status=issue_status)
    if not ok:
        run.audit(step=step, decision="escalated", issue_id=dep["issue_id"], reason=f"rollback failed: {reason}"[:1000],
                  details={"deployment": dep["id"], "incident": str(path)})
        outbox.record(state, "agent_trouble", issue_id=dep["issue_id"], title=f"rollback of deployment {dep['id']} failed",
                      message=reason, key=f"rollback_failed:{dep['id']}", run_id=run.run_id)
    else:
        outbox.record(state, "rolled_back", issue_id=dep["issue_id"], title=f"deployment {dep['id']} rolled back",
                      message=reason, key=f"rolled_back:{dep['id']}", run_id=run.run_id)
    return {"deployment": dep["id"], "env": dep["env"], "status": target, "rollback_sha": sha, "reverted": reverted, "reason": reason,
            "issue_status": issue_status, "incident": str(path)}


def _issue_rolled_back(run: "Run", issue_id: int, reason: str, step: str) -> str:
    state, policy = run.state, run.settings.policy
    count = deployments.count_issue_rollback(state, issue_id)
    try:
        transitions.move(state, issue_id, "rolled_back", step=step, run_id=run.run_id, details={"rollbacks": count},
                         reason=f"rolled back ({count} of {policy.max_rollbacks_per_issue}): {reason}"[:1000])
    except PolicyRefused:  # a person closed or silenced it meanwhile: their word stands (the refusal is audited)
        return str(store_issues.status(state, issue_id))
    if count >= policy.max_rollbacks_per_issue:
        transitions.move(state, issue_id, "needs_human", step=step, run_id=run.run_id, details={"rollbacks": count, "rule": "policy.max_rollbacks_per_issue"},
                         reason=f"{count} rollbacks reached policy.max_rollbacks_per_issue ({policy.max_rollbacks_per_issue}); never auto-fixed again")
        return "needs_human"
    return "rolled_back"


def last_deployment(run: "Run", env_name: str) -> dict[str, Any] | None:
    return deployments.last_deployed(run.state, env_name)


def rollback(run: "Run", env_name: str, *, to: str | None = None, reason: str = "", strategy: str = "revert",
             mode: str = gates.MANUAL) -> dict[str, Any]:
    """A responder's rollback: the last agent deployment in `env_name`, or every commit after `to`, as the rollback gate
    allows in `mode` (`forced`: `--force`, which passes the kill switch, never the lock or the audit)."""
    run.settings.environment(env_name)  # a usage error for an unknown environment, before anything is looked at
    if strategy not in ("revert", "reset"):
        raise ConfigError("--strategy must be revert or reset")
    verdict = gates.rollback_gate(gates.RollbackFacts(paused=pause_state(run.state)), mode)
    if not verdict.decision.passes:
        raise PolicyRefused(f"{verdict.decision.reason}; `agent rollback` changes nothing until `agent resume` (or --force)",
                            rule=verdict.decision.rule)
    why = reason or "rollback asked for by a person"
    if mode == gates.FORCED:
        run.audit(step="rollback", decision="forced", reason=f"--force on {env_name}: {'; '.join(d.reason for d in verdict.all)}; {why}",
                  details={"env": env_name, "to": to, "decisions": [d.as_dict() for d in verdict.all]})
    if to is None:
        dep = last_deployment(run, env_name)
        if dep is None:
            return {"env": env_name, "status": "nothing_to_do", "reason": f"no agent deployment in {env_name}; use --to REF for other commits"}
        if dep["status"] in ("rolled_back", "rollback_failed") and dep.get("rollback_sha"):
            return {"env": env_name, "status": "nothing_to_do", "deployment": dep["id"],
                    "reason": f"deployment {dep['id']} was already rolled back ({dep['rollback_sha'][:12]})"}
        return rollback_deployment(run, dep["id"], reason=why, step="rollback", strategy=strategy)
    return _rollback_to(run, env_name, to, why, strategy)


def _rollback_to(run: "Run", env_name: str, ref: str, reason: str, strategy: str) -> dict[str, Any]:
    settings, state = run.settings, run.state
    env = settings.environment(env_name)
    git = GitRepo.of(settings)
    current = branch.head(git, env)
    if current is None:
        raise StepFailed(f"rollback: {env.remote} has no branch {env.branch}")
    target = git.resolve(ref) or git.resolve(f"refs/remotes/{env.remote}/{ref}")
    if target is None:
        raise ConfigError(f"--to {ref}: no such commit")
    if not git.is_ancestor(target, current):
        raise ConfigError(f"--to {ref}: {target[:12]} is not an ancestor of {env.remote}/{env.branch} ({current[:12]})")
    reverted = list(reversed(git.commits_between(target, current)))
    if not reverted:
        return {"env": env_name, "status": "nothing_to_do", "reason": f"{env.remote}/{env.branch} is at {target[:12]} already"}
    base: dict[str, Any] = {}  # no deploy, no baseline: "back" means every health URL answers well
    dep_id = deployments.create(state, kind="rollback", env=env_name, branch=env.branch, remote=env.remote, issue_id=None, fix_id=None,
                                fix_sha=None, previous_sha=current, baseline=base, run_id=run.run_id, status="monitoring", reason=reason)
    deployments.update(state, dep_id, sha=current)
    run.audit(step="rollback", decision="rollback-to", reason=f"reverting {len(reverted)} commits after {target[:12]} on {env.branch}: {reason}"[:1000],
              details={"deployment": dep_id, "to": target, "head": current, "reverted": reverted[:50]})
    message = branch.revert_message(f"Revert {env.branch} to {target[:12]}", reason, reverted, env_name)
    try:
        if strategy == "reset":
            pushed = branch.reset_to(git, env, target, current, what="rollback")
        else:
            pushed = branch.push_change(settings, git, env, branch.restore(target, message, settings), what="rollback")
    except StepFailed as exc:
        _finish(run, deployments.get(state, dep_id), ok=False, reason=f"{reason}; revert not pushed: {exc.message}", step="rollback",
                checks=[], trigger=None, sha=None, reverted=reverted)
        raise
    ok, how, checks = _after_push(run, env_name, pushed.sha, base)
    result = _finish(run, deployments.get(state, dep_id), ok=ok, reason=f"{reason}; {how}", step="rollback", checks=checks, trigger=None,
                     sha=pushed.sha, reverted=reverted)
    # Agent deployments among the reverted commits are rolled back too.
    for dep in deployments.not_undone(state, env_name):
        if dep["sha"] in reverted:
            move_deployment(state, dep["id"], "rolled_back", step="rollback", run_id=run.run_id, reason=f"reverted by rollback to {target[:12]}",
                            fields={"rollback_sha": pushed.sha}, details={"by_deployment": dep_id})
            if dep["issue_id"]:
                _issue_rolled_back(run, dep["issue_id"], f"reverted by rollback to {target[:12]}", "rollback")
    if not ok:
        raise StepFailed(f"rollback to {target[:12]} pushed ({pushed.sha[:12]}) but {how}")
    return result

