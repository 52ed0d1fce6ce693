"""`agent fix`: propose, gate, validate and commit a fix in a temporary worktree.

Each attempt gets its own tree under `[agent] workdir`; the branch
`agent/fix-<issue>-<n>` is made only when a validated attempt is committed. A
killed run leaves a `building` row that the next run cleans up (tree, branch
and any validation process still running). A dry run records nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from agent_cli import gates, limits, policy
from agent_cli.controls import pause_state
from agent_cli.errors import AgentError, PolicyRefused
from agent_cli.fix import integrity, worktree
from agent_cli.fix.attempt import Attempt, Built, Workspace, build
from agent_cli.fix.cleanup import cleanup
from agent_cli.fix.message import commit_message
from agent_cli.fix.strategies import AttemptFailed, plan_strategies
from agent_cli.fix.validate import CommandResult
from agent_cli.gitrepo import GitError, GitRepo, committer_env
from agent_cli.issues import committed_fix, load
from agent_cli.redact import redact
from agent_cli.runner import Run
from agent_cli.sandbox import sandbox_for
from agent_cli.state import utcnow
from agent_cli.store import fixes
from agent_cli.transitions import move


@dataclass
class FixResult:
    issue_id: int
    dry_run: bool
    status: str = "needs_human"
    branch: str | None = None
    sha: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    stopped: str = ""
    sandbox: str = ""
    kept: str | None = None  # the committed fix a failed `--again` left in place

    @property
    def succeeded(self) -> bool:
        return self.status in ("fix_ready", "dry_run")

    @property
    def refused_only(self) -> bool:
        """Every attempt was stopped by the safety gate (exit 3 rather than 1)."""
        tried = [a for a in self.attempts if a.outcome != "skipped"]
        return bool(tried) and all(a.outcome == "rejected" for a in tried)

    def as_dict(self) -> dict[str, Any]:
        return {"issue": self.issue_id, "dry_run": self.dry_run, "status": self.status, "branch": self.branch, "sha": self.sha,
                "stopped": self.stopped, "sandbox": self.sandbox, "kept": self.kept, "attempts": [a.as_dict() for a in self.attempts]}


def fix_facts(run: Run, issue: dict[str, Any], *, again: bool = False, dry_run: bool = False) -> gates.FixFacts:
    """What the fix gate decides on, for `issue` as `issues.load` reads it."""
    diagnosis = issue["diagnoses"][-1] if issue["diagnoses"] else {}
    existing = committed_fix(issue)
    used = None if dry_run else limits.fixes_last_hour(run.state, run.settings)[0]
    return gates.FixFacts(
        issue_id=issue["id"], status=issue["status"], paused=pause_state(run.state), auto_fixable=bool(issue["auto_fixable"]),
        auto_fixable_reason=issue.get("auto_fixable_reason") or "", confidence=diagnosis.get("confidence"), fixes_last_hour=used,
        has_fix=existing is not None, existing_branch=(existing or {}).get("branch") or "", again=again, diagnosed=bool(issue["diagnoses"]),
        validation_commands=bool(run.settings.validate_.commands), dry_run=dry_run,
    )


def fix_verdict(run: Run, issue: dict[str, Any], mode: str, *, again: bool = False, dry_run: bool = False) -> policy.Verdict:
    return gates.fix_gate(fix_facts(run, issue, again=again, dry_run=dry_run), run.settings.policy, mode)


# --- the step ------------------------------------------------------------------------------------

def fix(run: Run, issue_id: int, *, dry_run: bool = False, again: bool = False, mode: str = gates.MANUAL) -> FixResult:
    """Build a fix for the issue, as the fix gate allows in `mode` (a person's command by default; `agent run` passes auto).

    Paused means no model code runs: a dry run asks the model and validates its code too, so the gate holds for it.
    """
    settings, state = run.settings, run.state
    issue = load(state, issue_id)
    verdict = fix_verdict(run, issue, mode, again=again, dry_run=dry_run)
    if not verdict.decision.passes:
        raise PolicyRefused(verdict.decision.reason, rule=verdict.decision.rule)
    existing = fixes.committed(state, issue_id)
    diagnosis = issue["diagnoses"][-1]
    box = sandbox_for(settings)
    git = GitRepo.of(settings)
    cleanup(run, git)
    base_name, base_sha = worktree.base_ref(git, settings)
    plan = plan_strategies(settings, diagnosis, llm_down=run.llm_down is not None)
    result = FixResult(issue_id, dry_run, sandbox=box.note)
    feedback: str | None = None
    last_reasons: list[str] | None = None
    revert_whole = not (diagnosis.get("culprit") or {}).get("path")  # the culprit's hunks first: keep the rest of the commit
    max_attempts = settings.validate_.max_attempts
    while len(result.attempts) < max_attempts and plan:
        strategy = plan[0]
        attempt = _run_attempt(run, box, git, issue, diagnosis, strategy, feedback, base_sha, result, whole=revert_whole)
        if result.succeeded or result.stopped:
            break
        # Move on: one-shot strategies (revert, template) give way to the next; the LLM gets the failure back.
        if attempt.fallback:
            plan[0] = attempt.fallback
        elif strategy == "revert" and not revert_whole and attempt.outcome in ("failed", "skipped"):
            revert_whole = True  # the culprit's hunks were not enough (or did not apply): the whole commit
            if attempt.outcome == "skipped" or not _reverts_more(git, diagnosis):
                plan.pop(0)  # the whole commit would be the same change again
        elif strategy != "llm" or attempt.outcome == "skipped":
            plan.pop(0)
        if attempt.reasons == last_reasons and attempt.outcome != "skipped":
            result.stopped = "the same failure twice in a row: stuck"
            break
        last_reasons = attempt.reasons
        feedback = "\n".join(attempt.reasons) + "".join(f"\n\n$ {v['command']}\n{v['output_tail']}" for v in attempt.validation if not CommandResult.from_dict(v).ok)
    _finish(run, issue, result, existing)
    return result


def _reverts_more(git: GitRepo, diagnosis: dict[str, Any]) -> bool:
    """Does the suspect commit touch more than the culprit's file (so a whole revert is a different change)?"""
    sha = (diagnosis.get("suspect_commit") or {}).get("sha")
    culprit = (diagnosis.get("culprit") or {}).get("path")
    if not sha or git.resolve(f"{sha}^") is None:
        return False
    return any(f != culprit for f in git.changed_files(f"{sha}^", sha))


def _next_number(run: Run, issue_id: int) -> int:
    return fixes.next_attempt_number(run.state, issue_id)


def _run_attempt(run: Run, box: Any, git: GitRepo, issue: dict[str, Any], diagnosis: dict[str, Any], strategy: str, feedback: str | None,
                 base_sha: str, result: FixResult, *, whole: bool) -> Attempt:
    """One attempt, recorded (a dry run's row exists only while it runs, so a kill leaves something to clean up)."""
    settings, state, issue_id = run.settings, run.state, issue["id"]
    number = 0 if result.dry_run else _next_number(run, issue_id)
    branch = None if result.dry_run else f"{worktree.BRANCH_PREFIX}{issue_id}-{number}"
    wt_path = settings.workdir_path / (f"dry-{issue_id}-{uuid.uuid4().hex[:8]}" if result.dry_run else f"fix-{issue_id}-{number}")
    attempt = Attempt(number or len(result.attempts) + 1, strategy)
    result.attempts.append(attempt)
    fix_id = fixes.create_building(state, issue_id=issue_id, attempt=number, strategy=strategy, branch=branch, base_sha=base_sha,
                                   worktree=str(wt_path), run_id=run.run_id, created_at=utcnow())
    failure: AttemptFailed | None = None
    built: Built | None = None
    checkout_before: integrity.Fingerprint | None = None
    try:
        checkout_before = integrity.fingerprint(git)
        wt = worktree.add(git, wt_path, base_sha)
        ws = Workspace(run, box, git, wt, wt_path, base_sha, fix_id)
        built = build(ws, issue, diagnosis, strategy, feedback, attempt, whole=whole)
    except AttemptFailed as failed:
        failure = failed
    except AgentError as exc:  # git or the model failed mid-attempt: recorded, never left `building`
        failure = AttemptFailed("failed", [exc.message], final=True)
    finally:
        worktree.remove(git, wt_path)
    if checkout_before is not None:
        failure = _checkout_violation(run, issue_id, attempt, checkout_before) or failure
    if failure is None and built is not None and branch:
        try:
            _commit(run, git, issue, diagnosis, built, base_sha, branch, attempt, result)
        except AgentError as exc:
            failure = AttemptFailed("failed", [f"commit failed: {exc.message}"], final=True)
    if failure is None:
        attempt.outcome = "committed" if result.sha else "validated"
        result.status = "fix_ready" if result.sha else "dry_run"
    else:
        attempt.outcome, attempt.reasons, attempt.fallback = failure.outcome, failure.reasons, failure.fallback or ""
        if failure.final:
            result.stopped = failure.reasons[0]
    if result.dry_run:
        fixes.delete(state, fix_id)  # dry runs are free: no attempt number, nothing recorded as failed
    else:
        _record_attempt(run, issue_id, fix_id, attempt, result)
    return attempt


def _checkout_violation(run: Run, issue_id: int, attempt: Attempt, before: integrity.Fingerprint) -> AttemptFailed | None:
    """The refusal (which also stops further attempts) if anything in the user's checkout changed during the attempt."""
    try:
        after = integrity.fingerprint(GitRepo.of(run.settings))
    except GitError as exc:  # a check that cannot run refuses, never passes
        return AttemptFailed("failed", [f"integrity check could not run: {exc.message}"], final=True)
    changed = integrity.changes(before, after)
    if not changed:
        return None
    reason = f"integrity violation: the user's checkout changed during attempt {attempt.number}: {', '.join(changed[:20])}"
    run.audit(step="fix", decision="integrity-violation", issue_id=issue_id, reason=reason, details={"changed": changed})
    return AttemptFailed("failed", [reason], final=True)


def _commit(run: Run, git: GitRepo, issue: dict[str, Any], diagnosis: dict[str, Any], built: Built, base_sha: str, branch: str,
            attempt: Attempt, result: FixResult) -> None:
    """Commit the gated tree from objects alone; the files recorded are read back from the commit."""
    settings = run.settings
    message = commit_message(issue=issue, diagnosis=diagnosis, summary=built.proposal.summary, how=built.proposal.how, files=attempt.files,
                             validation=[CommandResult.from_dict(v) for v in attempt.validation], confidence=attempt.confidence or 0)
    sha = git.commit_tree(built.tree, base_sha, redact(message, emails=settings.diagnose.redact_emails), committer_env(settings.agent.committer))
    git.create_branch(branch, sha)
    attempt.files = git.changed_files(base_sha, sha)
    result.sha, result.branch = sha, branch


def _record_attempt(run: Run, issue_id: int, fix_id: int, attempt: Attempt, result: FixResult) -> None:
    status = {"committed": "committed", "validated": "dry_run"}.get(attempt.outcome, attempt.outcome or "failed")
    with run.state.transaction():
        fixes.record_outcome(
            run.state, fix_id, status=status, summary=attempt.summary, diff=attempt.diff[:200_000], files=attempt.files,
            validation=attempt.validation, confidence=attempt.confidence, reason="; ".join(attempt.reasons) or None,
            approval_reasons=attempt.approval, sha=result.sha if attempt.outcome == "committed" else None, evidence=attempt.evidence.get("kind"),
            evidence_detail={**attempt.evidence, "confidence_note": attempt.confidence_note, "setup": attempt.setup},
        )
        run.audit(
            step="fix", decision=attempt.outcome or "failed", issue_id=issue_id,
            reason=f"attempt {attempt.number} ({attempt.strategy}): " + ("; ".join(attempt.reasons) or attempt.summary)
            + (f"; evidence {attempt.evidence['kind']}" if attempt.outcome == "committed" and attempt.evidence else ""),
            details={"fix_id": fix_id, "files": attempt.files, "approval": attempt.approval, "evidence": attempt.evidence,
                     "confidence_note": attempt.confidence_note},
        )


def _finish(run: Run, issue: dict[str, Any], result: FixResult, existing: dict[str, Any] | None) -> None:
    if result.dry_run:
        run.audit(step="fix", decision="dry-run", issue_id=issue["id"],
                  reason=f"dry run: {'validated' if result.succeeded else result.stopped or 'no valid fix'} (nothing recorded)")
        return
    issue_id = issue["id"]
    if result.status == "fix_ready":
        with run.state.transaction():
            if existing:  # --again succeeded: the new fix replaces the old one
                fixes.supersede(run.state, existing["id"], f"replaced by {result.branch}")
                worktree.delete_branch(GitRepo.of(run.settings), existing["branch"])
            move(run.state, issue_id, "fix_ready", step="fix", reason=f"branch {result.branch} at {result.sha}", run_id=run.run_id)
        return
    why = result.stopped or f"{len(result.attempts)} attempt(s) failed"
    if existing:  # a failed re-fix never downgrades an issue that has a committed fix
        result.kept = existing["branch"]
        run.audit(step="fix", decision="kept", issue_id=issue_id, reason=f"re-fix failed ({why}); kept {existing['branch']}")
        return
    move(run.state, issue_id, "needs_human", step="fix", reason=f"fix: {why}", run_id=run.run_id)
