"""`agent run`: one full cycle under the run lock, as policy allows.

reconcile -> expire approvals -> scan -> diagnose new issues -> fix eligible ones -> staging deploys -> verify
(promote or roll back, and the inconclusive ones a person decided) -> production deploys -> notify.
Every gate is decided by `policy`; one issue failing does not stop the others; `--dry-run` decides
everything and changes nothing (no scan, LLM call, commit, push, deploy, approval row or notification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_cli import approvals, clock, policy
from agent_cli.errors import AgentError, PolicyRefused
from agent_cli.issues import committed_fix, load
from agent_cli.release import records
from agent_cli.store import deployments, fixes
from agent_cli.store import issues as issue_store

if TYPE_CHECKING:
    from agent_cli.runner import Run

FIXABLE_BY_RUN = ("diagnosed", "rolled_back")


@dataclass
class Cycle:
    level: int
    dry_run: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notified: list[dict[str, Any]] = field(default_factory=list)  # what the outbox sent this run
    run_events: list[tuple[str, int | None, str, str]] = field(default_factory=list)  # the run's own troubles: (event, issue, title, message)
    warnings: list[str] = field(default_factory=list)  # said, not failures (a model retiring soon, the LLM degraded)
    remote_deploys: int | None = None  # agent deploys on the remote in the last day: fetched once a run, counted up as it deploys
    fetched: bool = False

    def note(self, step: str, issue: int | None, action: str, decision: policy.Verdict | policy.Decision | None = None, **extra: Any) -> None:
        entry: dict[str, Any] = {"step": step, "issue": issue, "action": action, **extra}
        if decision is not None:
            entry["decision"] = decision.as_dict()
        self.actions.append(entry)

    def fail(self, step: str, issue: int | None, message: str) -> None:
        self.failures.append(f"{step}" + (f" issue {issue}" if issue else "") + f": {message}")
        self.note(step, issue, "failed", error=message)
        self.run_events.append(("failed", issue, f"{step} failed", message))

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "dry_run": self.dry_run, "actions": self.actions, "failures": self.failures,
                "warnings": self.warnings, "notified": [e for e in self.notified if e.get("sent")]}


def run_cycle(run: "Run", *, level: int | None = None, dry_run: bool = False) -> Cycle:
    settings = run.settings
    if level is not None:
        settings.policy.autonomy_level = level  # this run only: settings live as long as the process
    cycle = Cycle(settings.policy.autonomy_level, dry_run)
    # Approvals expire before the gates read them, so a cancel window that ran out lets its fix go this run.
    steps = [_reconcile, _expire, _scan, _diagnose, _fix, _deploy_staging, _verify, _deploy_production]
    for step in steps:
        try:
            step(run, cycle)
        except AgentError as exc:  # a step-wide failure (git unreachable, state): recorded, the rest go on
            cycle.fail(step.__name__.strip("_"), None, exc.message)
    if not dry_run:
        _notify(run, cycle)
    from agent_cli.llm_health import llm_status

    cycle.warnings = llm_status(settings, run.state, clock.current().now().date())["warnings"]
    run.audit(step="run", decision="cycle", reason=f"level {cycle.level}{' dry run' if dry_run else ''}: {len(cycle.actions)} actions, "
              f"{len(cycle.failures)} failures", details={"actions": cycle.actions[:200], "failures": cycle.failures[:50]})
    return cycle


# --- steps ---------------------------------------------------------------------------------------------------------


def _reconcile(run: "Run", cycle: Cycle) -> None:
    if cycle.dry_run:
        stuck = deployments.with_status(run.state, "deploying")
        for d in stuck:
            cycle.note("reconcile", d["issue_id"], "would repair", reason=f"deployment {d['id']} left deploying")
        return
    if fixes.building(run.state):  # a killed fix attempt left its tree, branch or validation behind
        from agent_cli.fix.cleanup import cleanup
        from agent_cli.gitrepo import GitRepo

        for item in cleanup(run, GitRepo.of(run.settings)):
            cycle.note("reconcile", None, "cleaned", reason=item)
    if not deployments.with_status(run.state, "deploying", kind="deploy"):
        return  # the usual case: nothing left half-deployed, and the release machinery is not even imported
    from agent_cli.release.deploy import reconcile

    for repaired in reconcile(run):
        cycle.note("reconcile", None, "repaired", reason=repaired["reason"], deployment=repaired["deployment"])
        cycle.run_events.append(("agent_trouble", None, "interrupted deployment repaired", repaired["reason"]))


def _scan(run: "Run", cycle: Cycle) -> None:
    if cycle.dry_run:
        cycle.note("scan", None, "skipped", reason="dry run: no cursor moves")
        return
    from agent_cli.detect.unchanged import nothing_new

    if nothing_new(run.settings, run.state):  # cron's usual cycle: no parser is even imported
        cycle.note("scan", None, "scanned", events=0, new_issues=0, regressions=0, unchanged=True)
        return
    from agent_cli.detect.scan import scan

    result = scan(run)  # new issues are in the outbox (agent_cli.outbox), as from any scan
    cycle.note("scan", None, "scanned", events=result.events, new_issues=len(result.new_issues), regressions=len(result.regressions))


def _issues(run: "Run", statuses: tuple[str, ...]) -> list[int]:
    """Ids of the issues in `statuses`, most severe first, then oldest."""
    found = [(r["severity"], r["id"]) for status in dict.fromkeys(statuses) for r in issue_store.summaries(run.state, status=status)]
    return [issue_id for _, issue_id in sorted(found)]


def _diagnose(run: "Run", cycle: Cycle) -> None:
    targets = _issues(run, ("detected",))
    if cycle.dry_run:
        for issue_id in targets:
            cycle.note("diagnose", issue_id, "would diagnose")
        return
    if not targets:
        return
    from agent_cli.diagnose import diagnose

    for issue_id in targets:
        try:
            result = diagnose(run, [issue_id])
        except AgentError as exc:
            cycle.fail("diagnose", issue_id, exc.message)
            continue
        for d in result.diagnosed:
            cycle.note("diagnose", issue_id, "diagnosed", confidence=d.get("confidence"), provider=d.get("provider"),
                       **({"reason": d["provider_note"]} if d.get("provider_note") else {}))
        for refused in result.refused:
            cycle.note("diagnose", issue_id, "not diagnosed", reason=refused.get("reason"))
        for failed in result.failed:
            cycle.fail("diagnose", issue_id, failed.get("reason", "failed"))


def fix_gate(run: "Run", issue: dict[str, Any]) -> policy.Verdict:
    """The fix gate in `auto` mode; a rolled-back issue's committed fix is the one that failed, so it is replaced."""
    from agent_cli import gates
    from agent_cli.fix.step import fix_verdict

    return fix_verdict(run, issue, gates.AUTO, again=issue["status"] == "rolled_back")


def _fix(run: "Run", cycle: Cycle) -> None:
    from agent_cli import transitions

    # needs_human is never picked: a person moves it on.
    for issue_id in _issues(run, FIXABLE_BY_RUN):
        try:
            issue = load(run.state, issue_id)
            if not issue["diagnoses"]:
                continue
            verdict = fix_gate(run, issue)
            if verdict.verdict != policy.ALLOW:
                cycle.note("fix", issue_id, "not fixed", verdict)
                if verdict.decision.rule == "policy.min_confidence_approval" and not cycle.dry_run:
                    transitions.move(run.state, issue_id, "needs_human", step="run", run_id=run.run_id, reason=verdict.decision.reason,
                                     details={"rule": verdict.decision.rule})
                continue
            if cycle.dry_run:
                cycle.note("fix", issue_id, "would fix", verdict)
                continue
            from agent_cli.fix.step import fix

            # A rolled-back issue's committed fix is the one that failed: it is replaced.
            result = fix(run, issue_id, again=issue["status"] == "rolled_back", mode="auto")  # gates.AUTO, without importing gates idle
            if result.succeeded:
                cycle.note("fix", issue_id, "fixed", verdict, sha=result.sha, branch=result.branch)
            else:
                last = result.attempts[-1].reasons if result.attempts else ["no fix strategy applies"]
                cycle.note("fix", issue_id, "no fix", verdict, reason=result.stopped or "; ".join(last)[:500])
        except PolicyRefused as exc:
            cycle.note("fix", issue_id, "refused", policy.Decision(policy.REFUSE, exc.rule, exc.message))
        except AgentError as exc:
            cycle.fail("fix", issue_id, exc.message)


def deploy_gate(run: "Run", issue: dict[str, Any], env: str, cycle: Cycle | None = None) -> policy.Verdict:
    """The deploy gate in `auto` mode; the remote's deploy count is fetched once a run."""
    from agent_cli import gates, limits
    from agent_cli.release.deploy import deploy_facts

    if cycle is not None and not cycle.fetched:
        cycle.remote_deploys, cycle.fetched = limits.remote_deploys_last_day(run.settings), True
    remote = cycle.remote_deploys if cycle is not None else None
    return gates.deploy_gate(deploy_facts(run, issue, env, remote_deploys=remote), run.settings.policy, gates.AUTO)


def _gate_and_deploy(run: "Run", cycle: Cycle, issue_id: int, env: str) -> None:
    from agent_cli.release.deploy import deploy

    issue = load(run.state, issue_id)
    fix_row = committed_fix(issue)
    if fix_row is None:
        return
    verdict = deploy_gate(run, issue, env, cycle)
    gate = f"deploy:{env}"
    approved = None
    if verdict.verdict == policy.APPROVAL:
        approved = approvals.find(run.state, issue_id, gate, ("approved",))
        if approved is None:
            _ask(run, cycle, issue, gate, verdict, fix_row)
            return
        # Used only when the deploy happens (below): a cancel window after it does not spend it.
        verdict = policy.combine(*[policy.allow(d.rule, f"approved by {approved['decided_by']}: {d.reason}") if d.verdict == policy.APPROVAL else d
                                   for d in verdict.all])
    if verdict.verdict == policy.NOTIFY and not _window_passed(run, cycle, issue, fix_row, verdict):
        return
    if not verdict.decision.passes:
        cycle.note("deploy", issue_id, f"not deployed to {env}", verdict)
        return
    if cycle.dry_run:
        cycle.note("deploy", issue_id, f"would deploy to {env}", verdict)
        return
    if approved is not None:
        approvals.consume(run.state, issue_id, gate, run_id=run.run_id)
    try:
        result = deploy(run, issue_id, env, mode="auto", verdict=verdict)  # gates.AUTO
    except PolicyRefused as exc:
        cycle.note("deploy", issue_id, f"not deployed to {env}", policy.Decision(policy.REFUSE, exc.rule, exc.message))
        return
    except AgentError as exc:
        cycle.fail("deploy", issue_id, exc.message)
        return
    cycle.note("deploy", issue_id, f"deployed to {env}", verdict, deployment=result["deployment"], sha=result["sha"])
    if cycle.remote_deploys is not None:
        cycle.remote_deploys += 1


def _ask(run: "Run", cycle: Cycle, issue: dict[str, Any], gate: str, verdict: policy.Verdict, fix_row: dict[str, Any]) -> None:
    reasons = [f"{d.reason} ({d.rule})" for d in verdict.blocking()]
    if cycle.dry_run:
        cycle.note("approvals", issue["id"], f"would ask a person: {gate}", verdict)
        return
    row, created = approvals.request(
        run.state, issue_id=issue["id"], gate=gate, run_id=run.run_id, reason="; ".join(reasons)[:1000],
        expires_in_s=run.settings.policy.approval_timeout_h * 3600,
        details={"rules": [d.rule for d in verdict.blocking()], "confidence": fix_row.get("confidence"), "evidence": fix_row.get("evidence"),
                 "files": fix_row.get("files") or [], "sha": fix_row.get("sha"), "summary": fix_row.get("summary"),
                 "diff_lines": len((fix_row.get("diff") or "").splitlines())})
    cycle.note("approvals", issue["id"], f"waiting for a person: {gate}", verdict, approval=row["id"])


def _window_passed(run: "Run", cycle: Cycle, issue: dict[str, Any], fix_row: dict[str, Any], verdict: policy.Verdict) -> bool:
    """The notify band: people are told, and the fix waits out cancel_window_s unless someone cancels it."""
    if cycle.dry_run:
        cycle.note("deploy", issue["id"], "would notify and wait out the cancel window", verdict)
        return False
    if approvals.consume(run.state, issue["id"], "cancel_window", run_id=run.run_id, statuses=("lapsed",)):
        return True
    cancelled = approvals.find(run.state, issue["id"], "cancel_window", ("rejected",))
    if cancelled:
        approvals.consume(run.state, issue["id"], "cancel_window", run_id=run.run_id, statuses=("rejected",))
        from agent_cli import transitions

        transitions.move(run.state, issue["id"], "needs_human", step="run", run_id=run.run_id,
                         reason=f"fix cancelled by {cancelled['decided_by']}: {cancelled.get('decision_reason') or ''}"[:1000])
        cycle.note("deploy", issue["id"], "cancelled", verdict)
        return False
    row, _ = approvals.request(run.state, issue_id=issue["id"], gate="cancel_window", run_id=run.run_id,
                               reason=f"fix {str(fix_row.get('sha'))[:12]} ships when the cancel window ends unless `agent cancel {issue['id']}` "
                                      f"({verdict.decision.reason})",
                               expires_in_s=run.settings.policy.cancel_window_s, details={"sha": fix_row.get("sha")})
    cycle.note("deploy", issue["id"], "waiting out the cancel window", verdict, until=row["expires_at"])
    return False


def _deploy_staging(run: "Run", cycle: Cycle) -> None:
    if "staging" not in run.settings.environments:
        return
    for issue_id in _issues(run, ("fix_ready",)):
        _gate_and_deploy(run, cycle, issue_id, "staging")


def _verify(run: "Run", cycle: Cycle) -> None:
    active = [d for d in records.active(run.state) if d["status"] == "monitoring" and d["kind"] == "deploy"]
    if not active and not deployments.with_status(run.state, "inconclusive", kind="deploy"):
        return  # nothing watched, nothing held for a person
    from agent_cli.release.verify import settle_inconclusive, verify

    if cycle.dry_run:
        for d in active:
            cycle.note("verify", d["issue_id"], "would sample", deployment=d["id"])
        return
    if active:
        result = verify(run)
        for d in result["deployments"]:
            cycle.note("verify", d.get("issue"), d["phase"], deployment=d["deployment"], rule=d.get("rule"), reason=d.get("reason"))
        for failure in result["failures"]:
            cycle.fail("verify", None, failure)
            cycle.run_events.append(("agent_trouble", None, "verify failed", failure))
    for d in settle_inconclusive(run):
        cycle.note("verify", None, d["phase"], deployment=d["deployment"], reason=d.get("reason") or d.get("error"))


def _deploy_production(run: "Run", cycle: Cycle) -> None:
    if "production" not in run.settings.environments:
        return
    for issue_id in _issues(run, ("staging",)):
        fix_row = fixes.committed(run.state, issue_id)
        if fix_row is None or records.active(run.state, "production"):
            continue
        healthy = deployments.healthy_on_staging(run.state, issue_id, fix_row["sha"])
        if healthy:
            _gate_and_deploy(run, cycle, issue_id, "production")
    if "staging" not in run.settings.environments:
        for issue_id in _issues(run, ("fix_ready",)):
            _gate_and_deploy(run, cycle, issue_id, "production")


def _expire(run: "Run", cycle: Cycle) -> None:
    if cycle.dry_run:
        return
    for row in approvals.expire(run.state, run_id=run.run_id):
        cycle.note("approvals", row["issue_id"], row["status"], approval=row["id"], gate=row["gate"])


def _notify(run: "Run", cycle: Cycle) -> None:
    """The run's own troubles join the steps' domain events in the outbox, and the outbox is drained (deduped per key)."""
    from agent_cli import outbox

    for event, issue_id, title, message in cycle.run_events:
        from agent_cli.notify import default_dedupe_key

        outbox.record(run.state, event, issue_id=issue_id, title=title, message=message, run_id=run.run_id,
                      key=default_dedupe_key(event, issue_id, title, message))
    cycle.notified = outbox.drain(run.state, run.settings, run.run_id)
