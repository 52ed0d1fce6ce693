"""One fix attempt in its own tree: propose, gate, prepare, baseline, apply, validate, weigh the evidence.

Order matters for trust: the proposal is gated before anything is written; the
gated change is turned into a git tree object before any code runs; model
code runs only inside the sandbox; what the tree holds afterwards is never
committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.errors import StepFailed
from agent_cli.fix import deps, gate
from agent_cli.fix.edits import EditRejected, plan_edits, write_contents
from agent_cli.fix.evidence import NONE, Evidence, assess, is_test_path, markers, repo_has_tests
from agent_cli.fix.strategies import (
    AttemptFailed,
    Proposal,
    apply_revert,
    propose_llm,
    propose_revert,
    propose_template,
    revert_candidate,
)
from agent_cli.fix.validate import FAILURES_VERSION, CommandResult, blocking, expand, run_command
from agent_cli.gitrepo import GitRepo
from agent_cli.runner import Run
from agent_cli.sandbox import Sandbox
from agent_cli.state import utcnow
from agent_cli.store import fixes


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
    confidence_note: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    not_committed: list[str] = field(default_factory=list)  # what validation left in the tree beyond the change
    fallback: str = ""  # the strategy that replaces this one (the model was unusable)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Built:
    """What an attempt made: the tree object of the gated change, and the proposal behind it."""

    proposal: Proposal
    tree: str


@dataclass
class Workspace:
    run: Run
    box: Sandbox
    git: GitRepo  # the user's repository (objects, refs)
    tree: GitRepo  # the attempt's worktree
    path: Path
    base_sha: str
    fix_id: int | None  # None for a dry run: nothing recorded

    def remember_pgid(self, pgid: int) -> None:
        # Recorded so a run after a kill -9 can stop a validation left running.
        if self.fix_id is not None:
            fixes.set_validation_pgid(self.run.state, self.fix_id, pgid)

    def run_all(self, commands: list[str]) -> list[CommandResult]:
        return [run_command(c, self.path, self.run.settings.validate_.timeout_s, self.box, on_start=self.remember_pgid) for c in commands]

    def reset(self, keep: tuple[str, ...] = ()) -> None:
        """Back to the pristine base, keeping prepared dependencies."""
        self.tree.run("reset", "--hard", "--quiet")
        self.tree.run("clean", "-fdq", *[f"--exclude=/{entry}" for entry in keep])


def propose(ws: Workspace, issue: dict[str, Any], diagnosis: dict[str, Any], strategy: str, feedback: str | None, *, whole: bool) -> Proposal:
    settings = ws.run.settings
    if strategy == "revert":
        suspect = revert_candidate(settings, diagnosis) or {}
        return propose_revert(ws.tree, ws.base_sha, suspect, (diagnosis.get("culprit") or {}).get("path"), whole)
    if strategy == "llm":
        from agent_cli.llm import BudgetExceeded, LLMUnavailable, fall_back

        wants_test = repo_has_tests(ws.tree.run("ls-files").split("\n"))
        try:
            return propose_llm(ws.run, ws.path, issue, diagnosis, feedback, wants_test=wants_test)
        except (LLMUnavailable, BudgetExceeded) as exc:
            if settings.llm.on_failure == "offline":  # never a half-written patch: the offline templates instead
                note = fall_back(ws.run, issue_id=issue["id"], step="fix", exc=exc, instead="offline fix templates")
                raise AttemptFailed("skipped", [f"{note}; the offline templates are tried instead"], fallback="template") from None
            if isinstance(exc, BudgetExceeded):
                raise AttemptFailed("rejected", [exc.message], final=True) from None
            raise AttemptFailed("failed", [exc.message], final=True) from None
        except StepFailed as exc:
            raise AttemptFailed("failed", [exc.message], final=True) from None
    return propose_template(ws.path, diagnosis)


def build(ws: Workspace, issue: dict[str, Any], diagnosis: dict[str, Any], strategy: str, feedback: str | None, attempt: Attempt,
          *, whole: bool) -> Built:
    settings = ws.run.settings
    proposal = propose(ws, issue, diagnosis, strategy, feedback, whole=whole)
    attempt.summary, attempt.files = proposal.summary, proposal.files
    # A fix is no surer than its diagnosis.
    known = [c for c in (proposal.confidence, diagnosis.get("confidence")) if c is not None]
    attempt.confidence = min(known) if known else None
    protected = gate.builtin_protected(settings)
    checked = gate.check(ws.path, proposal.added, proposal.changed_lines, proposal.changed_bytes, settings.policy, protected)
    attempt.approval = checked.approval + (["the diagnosis asks for human approval"] if diagnosis.get("requires_human_approval") else [])
    if not checked.ok:
        raise AttemptFailed("rejected", checked.rejected)  # audited with the attempt, rule named
    contents: dict[str, str] | None = None
    if proposal.edits is not None:
        edits = [e.model_copy(update={"path": gate.normalise(e.path)}) for e in proposal.edits]
        try:
            contents = plan_edits(ws.path, edits, allow_new_files=True)
        except EditRejected as exc:
            raise AttemptFailed("failed", [str(exc)]) from None
    prepared = deps.prepare(ws.tree, ws.path, settings.workdir_path / "deps", settings.validate_.setup, ws.box,
                            settings.validate_.timeout_s, on_start=ws.remember_pgid)
    attempt.setup = {"how": prepared.how, "key": prepared.key, "entries": list(prepared.entries)}
    commands = [expand(c, proposal.files) for c in settings.validate_.commands]
    baseline = _baseline(ws, commands, prepared.entries)
    tests_only = None
    if contents is not None:
        tests = {p: t for p, t in contents.items() if is_test_path(p)}
        if tests and len(tests) < len(contents):
            # The proposal's own test, on the base: it must fail there to show the bug.
            write_contents(ws.path, tests)
            tests_only = ws.run_all(commands)
            ws.reset(prepared.entries)
        write_contents(ws.path, contents)
        # The commit is built from these gated contents alone, never from what validation leaves in the tree.
        tree = ws.git.tree_with(ws.base_sha, contents)
    else:
        apply_revert(ws.tree, ws.path, proposal)
        tree = ws.tree.run("write-tree").strip()  # git's own revert, snapshotted before any code runs
    attempt.files = ws.git.changed_files(ws.base_sha, tree)
    if not attempt.files:
        raise AttemptFailed("failed", ["the change is empty"])
    unexpected = [f for f in attempt.files if f not in proposal.added]
    if unexpected:
        checked = gate.check(ws.path, {f: "" for f in unexpected}, 0, 0, settings.policy, protected)
        if not checked.ok:
            raise AttemptFailed("rejected", checked.rejected)
    attempt.diff = ws.git.run("diff", "--no-renames", ws.base_sha, tree)
    after = ws.run_all(commands)
    attempt.validation = [r.as_dict() for r in after]
    attempt.not_committed = [f for f in _left_by_validation(ws.tree, tree) if f.split("/")[0] not in prepared.entries]
    evidence = assess(baseline, after, markers(issue, diagnosis), tests_only)
    attempt.evidence = evidence.as_dict()
    reasons = blocking(baseline, after)
    reasons += [f"a failure related to the issue still fails: {f}" for f in evidence.still_failing[:10]]
    if reasons:
        raise AttemptFailed("failed", reasons)
    _cap_without_evidence(ws.run, attempt, evidence)
    return Built(proposal, tree)


def _cap_without_evidence(run: Run, attempt: Attempt, evidence: Evidence) -> None:
    """Evidence `none`: confidence capped below min_confidence_auto, so policy cannot ship it without a person."""
    if evidence.kind != NONE:
        return
    cap = round(max(0.0, run.settings.policy.min_confidence_auto - 0.01), 2)
    if attempt.confidence is None or attempt.confidence > cap:
        attempt.confidence = cap
    attempt.confidence_note = f"capped at {cap:.2f}: no test shows the fix removes the failure ({evidence.detail})"


def _baseline(ws: Workspace, commands: list[str], keep: tuple[str, ...]) -> list[CommandResult]:
    """Each command on the unmodified base, cached per base sha, exact command and parser version; the tree is pristine again after."""
    run = ws.run
    results = []
    ran = False
    timeout = run.settings.validate_.timeout_s
    for command in commands:
        key = hashlib.sha1(f"{command}\0{timeout}\0{FAILURES_VERSION}".encode()).hexdigest()
        cached = fixes.baseline(run.state, ws.base_sha, key)
        if cached is not None:
            results.append(CommandResult.from_dict(cached))
            continue
        result = run_command(command, ws.path, timeout, ws.box, on_start=ws.remember_pgid)
        ran = True
        fixes.save_baseline(run.state, ws.base_sha, key, result.as_dict(), created_at=utcnow())
        results.append(result)
    if ran:  # what the base's own tests wrote must not mix with the change
        ws.reset(keep)
    return results


def _left_by_validation(wt: GitRepo, tree: str) -> list[str]:
    """Files validation created or changed in the tree beyond the gated change: reported, never committed."""
    changed = [f for f in wt.run("diff", "--name-only", "--no-renames", tree).split("\n") if f]
    untracked = [f for f in wt.run("ls-files", "--others", "--exclude-standard").split("\n") if f]
    return sorted(set(changed) | set(untracked))[:50]
