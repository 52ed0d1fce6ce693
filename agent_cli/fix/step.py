"""`agent fix`: propose, gate, validate and commit a fix in a temporary worktree.

Each attempt gets its own worktree (and, unless --dry-run, its own branch
`agent/fix-<issue>-<n>`) under the state directory. An attempt that fails is
removed with its branch; a killed run leaves a `building` row that the next
run cleans up (worktree, branch and any validation process still running).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.config import Settings
from agent_cli.controls import ensure_not_paused
from agent_cli.errors import AgentError, PolicyRefused, StepFailed
from agent_cli.fix import gate, integrity, worktree
from agent_cli.fix.cleanup import cleanup
from agent_cli.fix.edits import EditRejected, plan_edits, write_contents
from agent_cli.fix.message import commit_message
from agent_cli.fix.strategies import (
    AttemptFailed,
    Proposal,
    apply_revert,
    plan_strategies,
    propose_llm,
    propose_revert,
    propose_template,
    revert_candidate,
)
from agent_cli.fix.validate import CommandResult, blocking, expand, run_command
from agent_cli.gitrepo import GitRepo
from agent_cli.issues import show_issue
from agent_cli.redact import redact
from agent_cli.runner import Run
from agent_cli.sandbox import Sandbox, sandbox_for
from agent_cli.state import utcnow

FIXABLE = ("diagnosed", "fix_ready", "needs_human")


@dataclass
class Attempt:
    number: int
    strategy: str
    summary: str = ""
    outcome: str = ""  # committed | validated | failed | rejected | skipped
    reasons: list[str] = field(default_factory=list)
    diff: str = ""
    files: list[str] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    approval: list[str] = field(default_factory=list)
    confidence: float | None = None
    not_committed: list[str] = field(default_factory=list)  # what validation left in the tree beyond the change


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
                "stopped": self.stopped, "sandbox": self.sandbox, "attempts": [asdict(a) for a in self.attempts]}


def check_fix_rate(run: Run) -> None:
    limit = run.settings.policy.max_fixes_per_hour
    used = run.state.fixes_committed_last_hour()
    if used >= limit:
        raise PolicyRefused(f"{used} fixes committed in the last hour", rule="policy.max_fixes_per_hour")


def _committer_env(settings: Settings) -> dict[str, str]:
    raw = settings.agent.committer
    name, _, rest = raw.partition("<")
    email = rest.rstrip(">").strip() or "agent-cli@localhost"
    name = name.strip() or "agent-cli"
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


# --- validation ----------------------------------------------------------------------------------

def _remember_pgid(run: Run, fix_id: int):
    def remember(pgid: int) -> None:
        # Recorded so a run after a kill -9 can stop a validation left running.
        with run.state.transaction() as db:
            db.execute("UPDATE fixes SET validation_pgid = ? WHERE id = ?", [pgid, fix_id])

    return remember


def _baseline(run: Run, box: Sandbox, fix_id: int, wt: GitRepo, wt_path: Path, base_sha: str, commands: list[str]) -> list[CommandResult]:
    """Each command on the unmodified base, cached per base sha and exact command; the tree is pristine again after."""
    results = []
    ran = False
    timeout = run.settings.validate_.timeout_s
    for command in commands:
        key = hashlib.sha1(f"{command}\0{timeout}".encode()).hexdigest()
        row = run.state.db.execute(
            "SELECT results FROM validation_baselines WHERE base_sha = ? AND commands_hash = ?", [base_sha, key]
        ).fetchone()
        if row is not None:
            results.append(CommandResult.from_dict(json.loads(row[0])))
            continue
        result = run_command(command, wt_path, timeout, box, on_start=_remember_pgid(run, fix_id))
        ran = True
        with run.state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO validation_baselines(base_sha, commands_hash, results, created_at) VALUES (?, ?, ?, ?)",
                [base_sha, key, json.dumps(result.as_dict()), utcnow()],
            )
        results.append(result)
    if ran:  # what the base's own tests wrote must not mix with the change
        wt.run("reset", "--hard", "--quiet")
        wt.run("clean", "-fdq")
    return results


def _validate(run: Run, box: Sandbox, fix_id: int, wt_path: Path, commands: list[str]) -> list[CommandResult]:
    return [run_command(c, wt_path, run.settings.validate_.timeout_s, box, on_start=_remember_pgid(run, fix_id)) for c in commands]


# --- the step ------------------------------------------------------------------------------------

def fix(run: Run, issue_id: int, *, dry_run: bool = False) -> FixResult:
    settings, state = run.settings, run.state
    issue = show_issue(state, issue_id)
    # Paused means no model code runs: a dry run asks the model and validates its code too.
    ensure_not_paused(state, "fix")
    if issue["status"] not in FIXABLE or not issue["diagnoses"]:
        raise PolicyRefused(f"issue {issue_id} is {issue['status']}; `agent fix` needs a diagnosed issue", rule="issue.status")
    diagnosis = issue["diagnoses"][-1]
    if not dry_run:
        check_fix_rate(run)
        if not settings.validate_.commands:
            # Nothing would check the change: never commit an unvalidated fix.
            raise PolicyRefused("no validation commands are configured", rule="validate.commands")
    box = sandbox_for(settings)
    git = GitRepo(settings.repo_path)
    cleanup(run, git)
    base_name, base_sha = worktree.base_ref(git, settings)
    plan = plan_strategies(settings, diagnosis)
    result = FixResult(issue_id, dry_run, sandbox=box.note)
    feedback: str | None = None
    last_reasons: list[str] | None = None
    revert_whole = True
    max_attempts = settings.validate_.max_attempts
    while len(result.attempts) < max_attempts and plan:
        strategy = plan[0]
        number = state.count("SELECT COUNT(*) FROM fixes WHERE issue_id = ?", [issue_id]) + 1
        branch = None if dry_run else f"{worktree.BRANCH_PREFIX}{issue_id}-{number}"
        wt_path = settings.workdir_path / (f"dry-{issue_id}-{uuid.uuid4().hex[:8]}" if dry_run else f"fix-{issue_id}-{number}")
        attempt = Attempt(number, strategy)
        result.attempts.append(attempt)
        with state.transaction() as db:
            fix_id = db.execute(
                "INSERT INTO fixes(issue_id, attempt, created_at, strategy, status, branch, base_sha, worktree, run_id) "
                "VALUES (?, ?, ?, ?, 'building', ?, ?, ?, ?)",
                [issue_id, number, utcnow(), strategy, branch, base_sha, str(wt_path), run.run_id],
            ).lastrowid
        checkout_before = integrity.fingerprint(settings.repo_path)
        failure: AttemptFailed | None = None
        try:
            wt = worktree.add(git, wt_path, base_sha)
            built = _attempt(run, box, git, wt, wt_path, issue, diagnosis, strategy, feedback, base_sha, attempt, fix_id, whole=revert_whole)
        except AttemptFailed as failed:
            failure = failed
        except AgentError as exc:  # git or the model failed mid-attempt: recorded, never left `building`
            failure = AttemptFailed("failed", [exc.message], final=True)
        finally:
            worktree.remove(git, wt_path)
        failure = _checkout_violation(run, issue_id, attempt, checkout_before) or failure
        if failure is None and not dry_run and branch:
            try:
                _commit(run, git, issue, diagnosis, built, base_sha, branch, attempt, result)
            except AgentError as exc:
                failure = AttemptFailed("failed", [f"commit failed: {exc.message}"], final=True)
        if failure is None:
            attempt.outcome = "committed" if result.sha else "validated"
            result.status = "fix_ready" if result.sha else "dry_run"
        else:
            attempt.outcome, attempt.reasons = failure.outcome, failure.reasons
            if failure.final:
                result.stopped = failure.reasons[0]
        _record_attempt(run, issue_id, fix_id, attempt, result)
        if result.succeeded or result.stopped:
            break
        # Move on: one-shot strategies (revert, template) give way to the next; the LLM gets the failure back.
        if strategy == "revert" and revert_whole and diagnosis.get("culprit") and attempt.outcome == "failed" and "does not apply" in " ".join(attempt.reasons):
            revert_whole = False  # try just the culprit file's hunks
        elif strategy != "llm" or attempt.outcome == "skipped":
            plan.pop(0)
        if attempt.reasons == last_reasons and attempt.outcome != "skipped":
            result.stopped = "the same failure twice in a row: stuck"
            break
        last_reasons = attempt.reasons
        feedback = "\n".join(attempt.reasons) + "".join(f"\n\n$ {v['command']}\n{v['output_tail']}" for v in attempt.validation if not CommandResult.from_dict(v).ok)
    _finish(run, issue, result)
    return result


def _checkout_violation(run: Run, issue_id: int, attempt: Attempt, before: integrity.Fingerprint) -> AttemptFailed | None:
    """The refusal (which also stops further attempts) if anything in the user's checkout changed during the attempt."""
    changed = integrity.changes(before, integrity.fingerprint(run.settings.repo_path))
    if not changed:
        return None
    reason = f"integrity violation: the user's checkout changed during attempt {attempt.number}: {', '.join(changed[:20])}"
    run.audit(step="fix", decision="integrity-violation", issue_id=issue_id, reason=reason, details={"changed": changed})
    return AttemptFailed("failed", [reason], final=True)


@dataclass
class Built:
    """What an attempt made: the tree object of the gated change, and the proposal behind it."""

    proposal: Proposal
    tree: str


def _commit(run: Run, git: GitRepo, issue: dict[str, Any], diagnosis: dict[str, Any], built: Built, base_sha: str, branch: str,
            attempt: Attempt, result: FixResult) -> None:
    """Commit the gated tree from objects alone; the files recorded are read back from the commit."""
    settings = run.settings
    message = commit_message(issue=issue, diagnosis=diagnosis, summary=built.proposal.summary, how=built.proposal.how, files=attempt.files,
                             validation=[CommandResult.from_dict(v) for v in attempt.validation], confidence=attempt.confidence or 0)
    sha = git.commit_tree(built.tree, base_sha, redact(message, emails=settings.diagnose.redact_emails), _committer_env(settings))
    git.create_branch(branch, sha)
    attempt.files = git.changed_files(base_sha, sha)
    result.sha, result.branch = sha, branch


def _attempt(run: Run, box: Sandbox, git: GitRepo, wt: GitRepo, wt_path: Path, issue: dict[str, Any], diagnosis: dict[str, Any],
             strategy: str, feedback: str | None, base_sha: str, attempt: Attempt, fix_id: int, *, whole: bool) -> Built:
    settings = run.settings
    if strategy == "revert":
        suspect = revert_candidate(settings, diagnosis) or {}
        proposal = propose_revert(wt, base_sha, suspect, (diagnosis.get("culprit") or {}).get("path"), whole)
    elif strategy == "llm":
        from agent_cli.llm import BudgetExceeded

        try:
            proposal = propose_llm(run, wt_path, issue, diagnosis, feedback)
        except BudgetExceeded as exc:
            raise AttemptFailed("rejected", [exc.message], final=True) from None
        except StepFailed as exc:
            raise AttemptFailed("failed", [exc.message], final=True) from None
    else:
        proposal = propose_template(wt_path, diagnosis)
    attempt.summary, attempt.files = proposal.summary, proposal.files
    # A fix is no surer than its diagnosis.
    known = [c for c in (proposal.confidence, diagnosis.get("confidence")) if c is not None]
    attempt.confidence = min(known) if known else None
    protected = gate.builtin_protected(settings)
    checked = gate.check(wt_path, proposal.added, proposal.changed_lines, proposal.changed_bytes, settings.policy, protected)
    attempt.approval = checked.approval + (["the diagnosis asks for human approval"] if diagnosis.get("requires_human_approval") else [])
    if not checked.ok:
        raise AttemptFailed("rejected", checked.rejected)  # audited with the attempt, rule named
    contents: dict[str, str] | None = None
    if proposal.edits is not None:
        edits = [e.model_copy(update={"path": gate.normalise(e.path)}) for e in proposal.edits]
        try:
            contents = plan_edits(wt_path, edits, allow_new_files=True)
        except EditRejected as exc:
            raise AttemptFailed("failed", [str(exc)]) from None
    commands = [expand(c, proposal.files) for c in settings.validate_.commands]
    baseline = _baseline(run, box, fix_id, wt, wt_path, base_sha, commands)
    if contents is not None:
        write_contents(wt_path, contents)
        # The commit is built from these gated contents alone, never from what validation leaves in the tree.
        tree = git.tree_with(base_sha, contents)
    else:
        apply_revert(wt, wt_path, proposal)
        tree = wt.run("write-tree").strip()  # git's own revert, snapshotted before any code runs
    attempt.files = git.changed_files(base_sha, tree)
    if not attempt.files:
        raise AttemptFailed("failed", ["the change is empty"])
    unexpected = [f for f in attempt.files if f not in proposal.added]
    if unexpected:
        checked = gate.check(wt_path, {f: "" for f in unexpected}, 0, 0, settings.policy, protected)
        if not checked.ok:
            raise AttemptFailed("rejected", checked.rejected)
    attempt.diff = git.run("diff", "--no-renames", base_sha, tree)
    after = _validate(run, box, fix_id, wt_path, commands)
    attempt.validation = [r.as_dict() for r in after]
    attempt.not_committed = _left_by_validation(wt, tree)
    reasons = blocking(baseline, after)
    if reasons:
        raise AttemptFailed("failed", reasons)
    return Built(proposal, tree)


def _left_by_validation(wt: GitRepo, tree: str) -> list[str]:
    """Files validation created or changed in the tree beyond the gated change: reported, never committed."""
    changed = [f for f in wt.run("diff", "--name-only", "--no-renames", tree).split("\n") if f]
    untracked = [f for f in wt.run("ls-files", "--others", "--exclude-standard").split("\n") if f]
    return sorted(set(changed) | set(untracked))[:50]


def _record_attempt(run: Run, issue_id: int, fix_id: int, attempt: Attempt, result: FixResult) -> None:
    status = {"committed": "committed", "validated": "dry_run"}.get(attempt.outcome, attempt.outcome or "failed")
    with run.state.transaction() as db:
        db.execute(
            "UPDATE fixes SET status = ?, summary = ?, diff = ?, files = ?, validation = ?, confidence = ?, reason = ?, "
            "approval_reasons = ?, sha = ?, validation_pgid = NULL WHERE id = ?",
            [status, attempt.summary, attempt.diff[:200_000], json.dumps(attempt.files), json.dumps(attempt.validation), attempt.confidence,
             "; ".join(attempt.reasons) or None, json.dumps(attempt.approval), result.sha if attempt.outcome == "committed" else None, fix_id],
        )
        run.audit(
            step="fix", decision=attempt.outcome or "failed", issue_id=issue_id,
            reason=f"attempt {attempt.number} ({attempt.strategy}): " + ("; ".join(attempt.reasons) or attempt.summary),
            details={"fix_id": fix_id, "files": attempt.files, "approval": attempt.approval},
        )


def _finish(run: Run, issue: dict[str, Any], result: FixResult) -> None:
    if result.dry_run:
        return
    with run.state.transaction() as db:
        if result.status == "fix_ready":
            db.execute("UPDATE issues SET status = 'fix_ready', status_reason = ?, updated_at = ? WHERE id = ?",
                       [f"branch {result.branch} at {result.sha}", utcnow(), issue["id"]])
        else:
            why = result.stopped or f"{len(result.attempts)} attempt(s) failed"
            db.execute("UPDATE issues SET status = 'needs_human', status_reason = ?, updated_at = ? WHERE id = ?", [f"fix: {why}", utcnow(), issue["id"]])
            run.audit(step="fix", decision="needs_human", issue_id=issue["id"], reason=why)
