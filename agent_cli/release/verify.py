"""`agent verify`: one sample per active deployment (no closer than interval_s), then the decision once it can be made.

Degraded is rolled back at once; healthy staging makes the issue eligible for production;
healthy production resolves it; inconclusive holds the deployment and asks a person.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agent_cli import clock, transitions
from agent_cli.errors import PolicyRefused, StepFailed
from agent_cli.release import measure
from agent_cli.release.assess import Assessment, assess, sample_verdict
from agent_cli.release.rollback import rollback_deployment
from agent_cli.release.states import move_deployment
from agent_cli.state import parse_utc, utcnow
from agent_cli.store import deployments

if TYPE_CHECKING:
    from agent_cli.runner import Run


def verify(run: "Run", *, env: str | None = None, wait: bool = False) -> dict[str, Any]:
    """Sample every active deployment once (or, with `wait`, until each is decided)."""
    if env is not None:
        run.settings.environment(env)
    results: dict[int, dict[str, Any]] = {}
    failures: list[str] = []
    while True:
        pending = [d for d in deployments.active(run.state, env) if d["kind"] == "deploy" and d["status"] == "monitoring"]
        if not pending:
            break
        next_due: list[float] = []
        for dep in pending:
            try:
                outcome = verify_one(run, dep)
            except StepFailed as exc:  # one deployment's trouble (a rollback that failed) does not stop the others
                outcome = {"deployment": dep["id"], "env": dep["env"], "phase": "rollback_failed", "error": exc.message}
                failures.append(exc.message)
            results[dep["id"]] = outcome
            if outcome.get("phase") == "monitoring":
                next_due.append(outcome.get("next_sample_in_s", 0.0))
        if not wait or not next_due:
            break
        clock.current().sleep(max(min(next_due), 0.2))
    return {"deployments": list(results.values()), "failures": failures}


def verify_one(run: "Run", dep: dict[str, Any]) -> dict[str, Any]:
    env = run.settings.environment(dep["env"])
    now = clock.current().now()
    live = parse_utc(dep["live_at"]) or now
    earlier = [s["verdict"] for s in deployments.samples(run.state, dep["id"])]
    last = parse_utc(deployments.last_sample_at(run.state, dep["id"]))
    if last is not None and (now - last).total_seconds() < env.interval_s:
        wait_s = env.interval_s - (now - last).total_seconds()
        return {"deployment": dep["id"], "env": dep["env"], "issue": dep["issue_id"], "phase": "monitoring", "sampled": False,
                "reason": f"last sample {(now - last).total_seconds():.0f}s ago; interval_s is {env.interval_s}", "next_sample_in_s": wait_s}
    checks = measure.sample_checks(run, dep)
    verdict = sample_verdict(checks)
    verdicts = earlier + [verdict]
    deployments.add_sample(run.state, dep["id"], verdict, [c.as_dict() for c in checks])
    elapsed = (clock.current().now() - live).total_seconds()
    verdict_of = assess(verdicts, env, elapsed_s=elapsed)
    run.audit(step="verify", decision=f"sample:{verdict}", issue_id=dep["issue_id"],
              reason=f"deployment {dep['id']} ({dep['env']}): {verdict}: " + "; ".join(f"{c.check} {c.verdict}: {c.detail}" for c in checks)[:900],
              details={"deployment": dep["id"], "checks": [c.as_dict() for c in checks], "phase": verdict_of.phase, "rule": verdict_of.rule,
                       "numbers": verdict_of.numbers})
    result = {"deployment": dep["id"], "env": dep["env"], "issue": dep["issue_id"], "sampled": True, "verdict": verdict,
              "checks": [c.as_dict() for c in checks], "phase": verdict_of.phase, "rule": verdict_of.rule, "reason": verdict_of.reason,
              "next_sample_in_s": float(env.interval_s)}
    if verdict_of.phase != "monitoring":
        result.update(_decide(run, dep, verdict_of))
    return result


def _decide(run: "Run", dep: dict[str, Any], decision: Assessment) -> dict[str, Any]:
    state, settings = run.state, run.settings
    why = f"{decision.reason} (rule: {decision.rule})"
    move_deployment(state, dep["id"], decision.phase, step="verify", run_id=run.run_id, reason=why,
                    details={"rule": decision.rule, "numbers": decision.numbers})
    issue_id = dep["issue_id"]
    if decision.phase == "degraded":
        trigger = deployments.samples(state, dep["id"])[-decision.numbers.get("max_consecutive_failures", 3):]
        bad = [c["detail"] for s in trigger for c in s["checks"] if c["verdict"] in ("failed", "error")]
        reason = f"degraded: {decision.reason}" + (f"; last: {bad[-1]}" if bad else "")
        rolled = rollback_deployment(run, dep["id"], reason=reason, step="verify", trigger=trigger)
        return {"phase": rolled["status"], "rollback": rolled}
    if decision.phase == "healthy" and dep["env"] == "production" and issue_id:
        return _resolve(run, dep)
    if decision.phase == "healthy":
        run.audit(step="verify", decision="eligible-for-production", issue_id=issue_id,
                  reason=f"deployment {dep['id']} healthy on {dep['env']}; the fix may go to production", details={"deployment": dep["id"]})
        return {"eligible_for": "production"}
    # inconclusive: held for a person, never a silent pass
    from agent_cli import approvals

    row, _ = approvals.request(state, issue_id=issue_id, gate="verify", deployment_id=dep["id"], run_id=run.run_id,
                               reason=f"deployment {dep['id']} to {dep['env']} inconclusive: {why}; approve to promote, reject to roll back",
                               details={"deployment": dep["id"], "env": dep["env"], "numbers": decision.numbers},
                               expires_in_s=settings.policy.approval_timeout_h * 3600)
    return {"approval": row["id"], "held": True}


def settle_inconclusive(run: "Run") -> list[dict[str, Any]]:
    """Held deployments a person decided: approved ones are promoted (healthy), rejected or expired ones rolled back."""
    from agent_cli import approvals

    done = []
    for dep in deployments.with_status(run.state, "inconclusive", kind="deploy"):
        row = approvals.find(run.state, dep["issue_id"], "verify", ("approved", "rejected", "expired"))
        if row is None or row.get("deployment_id") != dep["id"]:
            continue
        approvals.consume(run.state, dep["issue_id"], "verify", run_id=run.run_id, statuses=(row["status"],))
        who = f"{row['status']} by {row['decided_by']}"
        if row["status"] == "approved":
            healthy = Assessment("healthy", "approval.verify", f"inconclusive window promoted: {who}", {"approval": row["id"]})
            move_deployment(run.state, dep["id"], "healthy", step="verify", run_id=run.run_id, reason=healthy.reason,
                            details={"approval": row["id"]})
            if dep["env"] == "production" and dep["issue_id"]:
                _resolve(run, dep)
            done.append({"deployment": dep["id"], "phase": "healthy", "reason": healthy.reason})
        else:
            try:
                rolled = rollback_deployment(run, dep["id"], reason=f"inconclusive window {who}", step="verify")
                done.append({"deployment": dep["id"], "phase": rolled["status"], "rollback": rolled})
            except StepFailed as exc:
                done.append({"deployment": dep["id"], "phase": "rollback_failed", "error": exc.message})
    return done


def _resolve(run: "Run", dep: dict[str, Any]) -> dict[str, Any]:
    env = run.settings.environment(dep["env"])
    watch = (clock.current().now() + timedelta(hours=env.post_fix_watch_h)).isoformat()
    with run.state.transaction():
        deployments.mark_issue_resolved(run.state, dep["issue_id"], resolved_at=utcnow(), watch_until=watch)
        _move(run, dep["issue_id"], "resolved", f"fix verified healthy in production (deployment {dep['id']}); watched until {watch}")
    return {"issue_status": "resolved", "watch_until": watch}


def _move(run: "Run", issue_id: int, target: str, reason: str) -> None:
    try:
        transitions.move(run.state, issue_id, target, step="verify", reason=reason, run_id=run.run_id)
    except PolicyRefused:
        pass  # a person moved it meanwhile; the refusal is audited
