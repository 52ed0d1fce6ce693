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
from agent_cli.errors import PolicyRefused
from agent_cli.fix import gate, worktree
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
from agent_cli.runner import Run
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


@dataclass
class FixResult:
    issue_id: int
    dry_run: bool
    status: str = "needs_human"
    branch: str | None = None
    sha: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    stopped: str = ""

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
                "stopped": self.stopped, "attempts": [asdict(a) for a in self.attempts]}


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


def _baseline(run: Run, fix_id: int, wt_path: Path, base_sha: str, commands: list[str]) -> list[CommandResult]:
    """Each command on the unmodified base, cached per base sha and exact command."""
    results = []
    timeout = run.settings.validate_.timeout_s
    for command in commands:
        key = hashlib.sha1(f"{command}\0{timeout}".encode()).hexdigest()
        row = run.state.db.execute(
            "SELECT results FROM validation_baselines WHERE base_sha = ? AND commands_hash = ?", [base_sha, key]
        ).fetchone()
        if row is not None:
            results.append(CommandResult.from_dict(json.loads(row[0])))
            continue
        result = run_command(command, wt_path, timeout, on_start=_remember_pgid(run, fix_id))
        with run.state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO validation_baselines(base_sha, commands_hash, results, created_at) VALUES (?, ?, ?, ?)",
                [base_sha, key, json.dumps(result.as_dict()), utcnow()],
            )
        results.append(result)
    return results


def _validate(run: Run, fix_id: int, wt_path: Path, commands: list[str]) -> list[CommandResult]:
    return [run_command(c, wt_path, run.settings.validate_.timeout_s, on_start=_remember_pgid(run, fix_id)) for c in commands]


# --- the step ------------------------------------------------------------------------------------

def fix(run: Run, issue_id: int, *, dry_run: bool = False) -> FixResult:
    settings, state = run.settings, run.state
    issue = show_issue(state, issue_id)
    if issue["status"] not in FIXABLE or not issue["diagnoses"]:
        raise PolicyRefused(f"issue {issue_id} is {issue['status']}; `agent fix` needs a diagnosed issue", rule="issue.status")
    diagnosis = issue["diagnoses"][-1]
    if not dry_run:
        ensure_not_paused(state, "fix")
        check_fix_rate(run)
        if not settings.validate_.commands:
            # Nothing would check the change: never commit an unvalidated fix.
            raise PolicyRefused("no validation commands are configured", rule="validate.commands")
    git = GitRepo(settings.repo_path)
    cleanup(run, git)
    base_name, base_sha = worktree.base_ref(git, settings)
    plan = plan_strategies(settings, diagnosis)
    result = FixResult(issue_id, dry_run)
    feedback: str | None = None
    last_reasons: list[str] | None = None
    revert_whole = True
    max_attempts = settings.validate_.max_attempts
    while len(result.attempts) < max_attempts and plan:
        strategy = plan[0]
        number = state.count("SELECT COUNT(*) FROM fixes WHERE issue_id = ?", [issue_id]) + 1
        branch = None if dry_run else f"{worktree.BRANCH_PREFIX}{issue_id}-{number}"
        wt_path = worktree.worktrees_dir(settings) / (f"dry-{issue_id}-{uuid.uuid4().hex[:8]}" if dry_run else f"fix-{issue_id}-{number}")
        attempt = Attempt(number, strategy)
        result.attempts.append(attempt)
        with state.transaction() as db:
            fix_id = db.execute(
                "INSERT INTO fixes(issue_id, attempt, created_at, strategy, status, branch, base_sha, worktree, run_id) "
                "VALUES (?, ?, ?, ?, 'building', ?, ?, ?, ?)",
                [issue_id, number, utcnow(), strategy, branch, base_sha, str(wt_path), run.run_id],
            ).lastrowid
        wt = worktree.add(git, wt_path, base_sha, branch)
        committed = False
        try:
            proposal = _attempt(run, wt, wt_path, issue, diagnosis, strategy, feedback, base_sha, attempt, fix_id, whole=revert_whole)
            if not dry_run:
                message = commit_message(issue=issue, diagnosis=diagnosis, summary=proposal.summary, how=proposal.how, files=attempt.files,
                                         validation=[CommandResult.from_dict(v) for v in attempt.validation], confidence=attempt.confidence or 0)
                wt.run("commit", "--quiet", "--no-verify", "-m", message, env=_committer_env(settings))
                result.sha, result.branch, committed = wt.resolve("HEAD"), branch, True
            attempt.outcome = "committed" if committed else "validated"
            result.status = "fix_ready" if committed else "dry_run"
        except AttemptFailed as failed:
            attempt.outcome, attempt.reasons = failed.outcome, failed.reasons
            if failed.final:
                result.stopped = failed.reasons[0]
        finally:
            worktree.remove(git, wt_path)
            if branch and not committed:
                worktree.delete_branch(git, branch)
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


def _attempt(run: Run, wt: GitRepo, wt_path: Path, issue: dict[str, Any], diagnosis: dict[str, Any], strategy: str,
             feedback: str | None, base_sha: str, attempt: Attempt, fix_id: int, *, whole: bool) -> Proposal:
    settings = run.settings
    if strategy == "revert":
        suspect = revert_candidate(settings, diagnosis) or {}
        proposal = propose_revert(wt, base_sha, suspect, (diagnosis.get("culprit") or {}).get("path"), whole)
    elif strategy == "llm":
        from agent_cli.errors import StepFailed
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
    checked = gate.check(wt_path, proposal.files, proposal.added_text, proposal.changed_lines, settings.policy)
    attempt.approval = checked.approval + (["the diagnosis asks for human approval"] if diagnosis.get("requires_human_approval") else [])
    if not checked.ok:
        raise AttemptFailed("rejected", checked.rejected)  # audited with the attempt, rule named
    commands = [expand(c, proposal.files) for c in settings.validate_.commands]
    baseline = _baseline(run, fix_id, wt_path, base_sha, commands)
    if proposal.edits is not None:
        try:
            contents = plan_edits(wt_path, proposal.edits, allow_new_files=True)
        except EditRejected as exc:
            raise AttemptFailed("failed", [str(exc)]) from None
        write_contents(wt_path, contents)
        wt.run("add", "--", *contents)
    else:
        apply_revert(wt, wt_path, proposal)
    attempt.diff = wt.run("diff", "--cached", base_sha)
    attempt.files = [f for f in wt.run("diff", "--cached", "--name-only", base_sha).split("\n") if f]
    if not attempt.files:
        raise AttemptFailed("failed", ["the change is empty"])
    after = _validate(run, fix_id, wt_path, commands)
    attempt.validation = [r.as_dict() for r in after]
    reasons = blocking(baseline, after)
    if reasons:
        raise AttemptFailed("failed", reasons)
    return proposal


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
