"""`agent deploy`: the fix merged into the environment branch, pushed, deployed and live; or failed with nothing left half-done."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agent_cli import clock, gates, limits, outbox, policy, transitions
from agent_cli.controls import pause_state
from agent_cli.errors import PolicyRefused, StepFailed
from agent_cli.gitrepo import GitRepo, committer_env
from agent_cli.issues import committed_fix, load
from agent_cli.release import branch, measure, records, shell
from agent_cli.release.states import move_deployment
from agent_cli.state import utcnow
from agent_cli.store import deployments as store_deployments

if TYPE_CHECKING:
    from agent_cli.runner import Run

_STATUS_POLL_S = 1.0
# Where an issue must be for a deploy to each environment, and where it goes back to when the deploy fails.
_FROM = {"staging": ("fix_ready",), "production": ("staging", "fix_ready")}


def deploy_facts(run: "Run", issue: dict[str, Any], env_name: str, *, remote_deploys: int | None = None) -> gates.DeployFacts:
    """What the deploy gate decides on, for `issue` as `issues.load` reads it. `remote_deploys`: a count fetched this run."""
    settings, state = run.settings, run.state
    fix = committed_fix(issue)
    used, _ = limits.deploys_last_day(state, settings, remote=remote_deploys)
    busy = records.active(state, env_name)
    staging_required = env_name != "staging" and "staging" in settings.environments
    return gates.DeployFacts(
        issue_id=issue["id"], env=env_name, level=settings.policy.autonomy_level, severity=issue["severity"], status=issue["status"],
        paused=pause_state(state), affected_users=int(issue.get("affected_users") or 0), confidence=(fix or {}).get("confidence"),
        evidence=(fix or {}).get("evidence"), files=list((fix or {}).get("files") or []),
        approval_reasons=list((fix or {}).get("approval_reasons") or []), deploys_last_day=used, now=clock.current().now(),
        has_fix=fix is not None, fix_sha=(fix or {}).get("sha") or "",
        busy=f"deployment {busy[0]['id']} to {env_name} is still {busy[0]['status']}" if busy else "",
        staging_required=staging_required,
        staging_healthy=bool(fix and staging_required and store_deployments.healthy_on_staging(state, issue["id"], fix["sha"])),
        allowed_statuses=_FROM.get(env_name, ("fix_ready", "staging")),
    )


def deploy_decision(run: "Run", issue_id: int, env_name: str, mode: str = gates.MANUAL) -> policy.Verdict:
    """The deploy gate's verdict over every rule, deciding nothing (`agent deploy --dry-run`)."""
    run.settings.environment(env_name)
    return _verdict(run, load(run.state, issue_id), env_name, mode)


def _verdict(run: "Run", issue: dict[str, Any], env_name: str, mode: str) -> policy.Verdict:
    return gates.deploy_gate(deploy_facts(run, issue, env_name), run.settings.policy, mode)


def deploy(run: "Run", issue_id: int, env_name: str, *, mode: str = gates.MANUAL, verdict: policy.Verdict | None = None) -> dict[str, Any]:
    """Ship the issue's committed fix to `env_name`, as the deploy gate allows in `mode` (a person's command by default).

    `agent run` evaluates the gate itself (it files approvals and waits out cancel windows) and passes its `verdict`.
    """
    settings, state = run.settings, run.state
    env = settings.environment(env_name)
    issue = load(state, issue_id)
    verdict = verdict or _verdict(run, issue, env_name, mode)
    if not verdict.decision.passes:
        raise PolicyRefused(verdict.decision.reason, rule=verdict.decision.rule)
    fix = committed_fix(issue)
    assert fix is not None  # the gate's deploy.fix
    git = GitRepo.of(settings)
    previous = branch.head(git, env)
    if previous is None:
        raise StepFailed(f"deploy: {env.remote} has no branch {env.branch} (create it first; the agent never makes an environment branch)")
    if git.is_ancestor(fix["sha"], previous):
        raise PolicyRefused(f"fix {fix['sha'][:12]} is already in {env.remote}/{env.branch} (reverted since?); build a new one with "
                            f"`agent fix {issue_id} --again`", rule="deploy.already_merged")
    base = measure.baseline(run, env_name)
    dep_id = records.create(state, kind="deploy", env=env_name, branch=env.branch, remote=env.remote, issue_id=issue_id, fix_id=fix["id"],
                            fix_sha=fix["sha"], previous_sha=previous, baseline=base, run_id=run.run_id)
    run.audit(step="deploy", decision="deploying", issue_id=issue_id, reason=f"fix {fix['sha'][:12]} to {env_name} ({env.remote}/{env.branch})",
              details={"deployment": dep_id, "previous_sha": previous, "baseline": base})
    from_status = issue["status"]
    transitions.move(state, issue_id, env_name if env_name in ("staging", "production") else "staging", step="deploy", run_id=run.run_id,
                     reason=f"deployment {dep_id} to {env_name} started", details={"deployment": dep_id}, expect=from_status)
    try:
        return _ship(run, dep_id, issue, fix, env_name)
    except StepFailed as exc:
        _failed(run, dep_id, issue_id, from_status, exc.message)
        raise
    except BaseException as exc:  # Ctrl-C, a crash: the records say so before the error goes on
        _failed(run, dep_id, issue_id, from_status, f"interrupted: {type(exc).__name__}")
        raise


def _merge(settings: Any, issue: dict[str, Any], fix_sha: str, env_name: str) -> branch.MakeCommit:
    message = (f"Merge fix for issue #{issue['id']} into {env_name}\n\n{issue['title'][:200]}\n\n"
               f"Agent-Issue: {issue['id']}\nAgent-Deploy-Env: {env_name}\n")

    def make(tree: GitRepo, current: str) -> str:
        if tree.is_ancestor(current, fix_sha):
            return fix_sha  # fast-forward
        return tree.merge(fix_sha, message, committer_env(settings.agent.committer))
    return make


def _ship(run: "Run", dep_id: int, issue: dict[str, Any], fix: dict[str, Any], env_name: str) -> dict[str, Any]:
    settings, state = run.settings, run.state
    env = settings.environment(env_name)
    git = GitRepo.of(settings)
    started = time.monotonic()
    pushed = branch.push_change(settings, git, env, _merge(settings, issue, fix["sha"], env_name), what="deploy")
    records.update(state, dep_id, sha=pushed.sha, previous_sha=pushed.head_before)
    run.audit(step="deploy", decision="pushed", issue_id=issue["id"], reason=f"{env.remote}/{env.branch} {pushed.head_before[:12]} -> {pushed.sha[:12]}"
              + (" (redone after the branch moved)" if pushed.retried else ""), details={"deployment": dep_id, "sha": pushed.sha})
    outcome = _run_deploy_commands(run, env_name, pushed.sha, started)
    if outcome:
        _undo(run, dep_id, pushed, env_name, outcome)
        raise StepFailed(f"deploy of issue {issue['id']} to {env_name} failed: {outcome}")
    dep = records.deployment(state, dep_id)
    measure.scan_environment(run, env_name)  # lines before the deploy are the baseline's, not the window's
    base = {**dep["baseline"], "totals_at_live": measure.totals(state, dep["baseline"].get("sources", [])),
            "changed_lines": git.changed_lines(pushed.head_before, pushed.sha)}
    live_at = utcnow()
    records.update(state, dep_id, baseline=base)
    with state.transaction():
        move_deployment(state, dep_id, "monitoring", step="deploy", run_id=run.run_id, fields={"live_at": live_at},
                        reason=f"live at {pushed.sha[:12]}; watched for {env.monitor_s}s, a sample every {env.interval_s}s",
                        details={"sha": pushed.sha, "monitor_s": env.monitor_s})
        outbox.record(state, "deployed", issue_id=issue["id"], title=issue["title"], key=f"deployed:{dep_id}", run_id=run.run_id,
                      message=f"issue {issue['id']} fix {pushed.sha[:12]} deployed to {env_name}; watching")
    return {"deployment": dep_id, "issue": issue["id"], "env": env_name, "status": "monitoring", "sha": pushed.sha,
            "previous_sha": pushed.head_before, "fast_forward": pushed.sha == fix["sha"], "baseline": dep["baseline"], "live_at": live_at}


def _run_deploy_commands(run: "Run", env_name: str, sha: str, started: float) -> str:
    """deploy_command, then status_command until it exits 0, all within deploy_timeout_s; '' when live, else why not."""
    env = run.settings.environment(env_name)
    cwd = run.settings.repo_path
    deadline = started + env.deploy_timeout_s
    if env.deploy_command:
        outcome = shell.run(shell.expand(env.deploy_command, sha=sha, branch=env.branch, env=env_name), cwd=cwd,
                            timeout_s=deadline - time.monotonic())
        if not outcome.ok:
            return f"deploy command {outcome.describe()}"
    if not env.status_command:
        return ""
    last = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            tail = f"; last: {last.describe()}" if last else ""
            return f"status command never succeeded within deploy_timeout_s ({env.deploy_timeout_s:g}s){tail}"
        last = shell.run(shell.expand(env.status_command, sha=sha, branch=env.branch, env=env_name), cwd=cwd, timeout_s=remaining)
        if last.ok:
            return ""
        time.sleep(min(_STATUS_POLL_S, max(deadline - time.monotonic(), 0)))


def _undo(run: "Run", dep_id: int, pushed: branch.Pushed, env_name: str, why: str) -> None:
    """The branch put back as it was, by a revert pushed forward, so git says what the environment should run."""
    settings = run.settings
    env = settings.environment(env_name)
    git = GitRepo.of(settings)
    shas = branch.deployed_commits(git, pushed.head_before, pushed.sha)
    message = branch.revert_message(f"Revert failed deployment {dep_id} to {env_name}", why, shas, env_name)
    try:
        undone = branch.push_change(settings, git, env, branch.undo_commits(shas, message, settings), what="undo of the failed deploy")
    except StepFailed as exc:
        run.audit(step="deploy", decision="undo-failed", reason=f"deployment {dep_id}: {env.branch} still holds the deploy: {exc.message}"[:1000],
                  details={"deployment": dep_id})
        return
    records.update(run.state, dep_id, rollback_sha=undone.sha, rollback_of=shas)
    run.audit(step="deploy", decision="undone", reason=f"deployment {dep_id}: reverted on {env.branch} as {undone.sha[:12]}",
              details={"deployment": dep_id, "reverted": shas})


def _failed(run: "Run", dep_id: int, issue_id: int, back_to: str, why: str) -> None:
    move_deployment(run.state, dep_id, "failed", step="deploy", run_id=run.run_id, reason=why)
    try:
        transitions.move(run.state, issue_id, back_to, step="deploy", run_id=run.run_id, reason=f"deployment {dep_id} failed: {why}"[:1000],
                         details={"deployment": dep_id})
    except PolicyRefused:
        pass  # moved by a person meanwhile; the refusal is audited


def reconcile(run: "Run") -> list[dict[str, Any]]:
    """Deployments a killed run left `deploying`: checked against the remote branch head; a push that landed is
    reverted (the deploy never finished, so git must not say it did); each is failed with the reason, audited."""
    settings, state = run.settings, run.state
    repaired = []
    for dep in store_deployments.with_status(state, "deploying", kind="deploy"):
        env = settings.environments.get(dep["env"])
        why = "interrupted: the run that started it ended before it was live"
        if env is not None and dep["previous_sha"]:
            git = GitRepo.of(settings)
            try:
                head = branch.head(git, env)
                deployed = dep["sha"]
                if deployed is None and head and dep["fix_sha"] and head != dep["previous_sha"] and git.is_ancestor(dep["fix_sha"], head):
                    deployed = head
                if deployed and head and git.is_ancestor(deployed, head):
                    _undo(run, dep["id"], branch.Pushed(deployed, dep["previous_sha"], False), dep["env"], why)
                    why += f"; its push ({deployed[:12]}) reverted"
            except StepFailed as exc:
                why += f"; the branch could not be checked: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - a git failure must not stop the other repairs
                why += f"; the branch could not be checked: {type(exc).__name__}: {exc}"
        back_to = "fix_ready" if dep["env"] == "staging" or "staging" not in settings.environments else "staging"
        _failed(run, dep["id"], dep["issue_id"], back_to, why)
        run.audit(step="reconcile", decision="repaired", issue_id=dep["issue_id"], reason=f"deployment {dep['id']}: {why}",
                  details={"deployment": dep["id"]})
        repaired.append({"deployment": dep["id"], "reason": why})
    return repaired
