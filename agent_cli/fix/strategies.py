"""Fix strategies, tried in order: revert the suspect commit, Claude's propose_fix, offline templates.

Each produces a Proposal (edits, or a revert git applies) that the step gates,
applies and validates.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_cli import clock
from agent_cli.config import Settings
from agent_cli.fix import gate
from agent_cli.gitrepo import GitError, GitRepo
from agent_cli.llm_schema import Edit
from agent_cli.runner import Run

MAX_FILE_CHARS_FOR_LLM = 40_000


def revert_candidate(settings: Settings, diagnosis: dict[str, Any]) -> dict[str, Any] | None:
    suspect = diagnosis.get("suspect_commit") or {}
    if not suspect.get("sha"):
        return None
    try:  # its age now, not when it was diagnosed
        age_h = (clock.current().now() - datetime.fromisoformat(suspect["authored_at"])).total_seconds() / 3600
    except (KeyError, ValueError):
        return None
    if age_h > settings.fix.revert_max_age_h:
        return None
    if not (suspect.get("touched_culprit_line") or suspect.get("changed_culprit_function")):
        return None
    return suspect


def plan_strategies(settings: Settings, diagnosis: dict[str, Any], *, llm_down: bool = False) -> list[str]:
    """Revert first when a recent suspect changed the failing code; then the model, or the offline templates when
    there is no model or this run found it unusable (and `[llm] on_failure` says to go offline)."""
    from agent_cli.llm import provider_name

    plan = ["revert"] if revert_candidate(settings, diagnosis) else []
    use_llm = provider_name(settings) == "anthropic" and not (llm_down and settings.llm.on_failure == "offline")
    plan.append("llm" if use_llm else "template")
    return plan


@dataclass
class Proposal:
    summary: str
    how: str
    files: list[str]
    added: dict[str, str]  # path -> the text the change adds there (what the gate's secret scan reads)
    changed_lines: int
    changed_bytes: int
    edits: list[Edit] | None = None  # None: a revert, applied by git
    revert_sha: str | None = None
    revert_paths: list[str] | None = None
    confidence: float | None = None


class AttemptFailed(Exception):
    def __init__(self, outcome: str, reasons: list[str], *, final: bool = False, fallback: str | None = None) -> None:
        super().__init__("; ".join(reasons))
        self.outcome = outcome
        self.reasons = reasons
        self.final = final  # no further attempt can help (model unreachable, budget spent)
        self.fallback = fallback  # the strategy to try instead (the model is unusable: the offline templates)


def propose_revert(git: GitRepo, base_sha: str, suspect: dict[str, Any], culprit_path: str | None, whole: bool) -> Proposal:
    sha = suspect["sha"]
    try:
        git.run("merge-base", "--is-ancestor", sha, base_sha)
    except GitError as exc:
        if exc.returncode != 1:  # a timeout or a broken repository is a failure, not "not an ancestor"
            raise
        raise AttemptFailed("skipped", [f"suspect {sha[:12]} is not in the production branch; nothing to revert"]) from None
    if git.resolve(f"{sha}^") is None:
        raise AttemptFailed("skipped", [f"suspect {sha[:12]} is the repository's first commit; reverting it would remove everything"])
    paths = None if whole or not culprit_path else [culprit_path]
    files = [f for f in git.run("diff", "--name-only", "--no-renames", sha, f"{sha}^", "--", *(paths or [])).split("\n") if f]
    added: dict[str, str] = {}
    changed = changed_bytes = 0
    for path in files:
        reverse = git.run("diff", "--no-renames", sha, f"{sha}^", "--", path)
        body = [line for line in reverse.split("\n") if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        added[path] = "\n".join(line[1:] for line in body if line.startswith("+"))
        changed += len(body)
        changed_bytes += sum(len(line.encode()) for line in body)
    what = f"revert {sha[:12]} ({suspect.get('subject', '')})" if whole else f"revert {sha[:12]}'s changes to {culprit_path}"
    how = f"{what}: it changed the failing code {suspect.get('age_hours', 0):.1f}h before the error"
    others = [f for f in files if f != culprit_path]
    if whole and others:  # say what else goes with it, so a person sees the intended work this undoes
        how += f"; the whole commit was reverted, which also undoes its changes to {', '.join(others[:10])}"
    return Proposal(summary=what, how=how,
                    files=files, added=added, changed_lines=changed, changed_bytes=changed_bytes, revert_sha=sha, revert_paths=paths)


def apply_revert(wt: GitRepo, wt_path: Path, proposal: Proposal) -> None:
    sha = proposal.revert_sha
    assert sha is not None
    if proposal.revert_paths is None:
        try:
            wt.run("revert", "--no-commit", sha)
            return
        except GitError as exc:
            try:
                wt.run("revert", "--abort")
            except GitError:
                wt.run("reset", "--hard", "--quiet")
            raise AttemptFailed("failed", [f"git revert of {sha[:12]} does not apply: {exc.message}"]) from None
    patch = wt.run("diff", f"{sha}^", sha, "--", *proposal.revert_paths)
    with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as handle:
        handle.write(patch)
    try:
        wt.run("apply", "-R", "--index", handle.name)
    except GitError as exc:
        raise AttemptFailed("failed", [f"partial revert of {sha[:12]} does not apply: {exc.message}"]) from None
    finally:
        os.unlink(handle.name)


def propose_template(wt_path: Path, diagnosis: dict[str, Any]) -> Proposal:
    from agent_cli.fix.templates import NotApplicable, none_guard

    context = diagnosis.get("context") or {}
    try:
        edits, summary = none_guard(wt_path, diagnosis.get("culprit") or None, context.get("exception_type"), context.get("message") or "")
    except NotApplicable as exc:
        raise AttemptFailed("skipped", [f"no offline template applies: {exc.reason}"]) from None
    return _edit_proposal(edits, summary, summary, None)


def _edit_proposal(edits: list[Edit], summary: str, how: str, confidence: float | None) -> Proposal:
    added: dict[str, str] = {}
    for e in edits:
        added[e.path] = (added.get(e.path, "") + "\n" + e.replace).lstrip("\n")
    changed = sum(len(e.search.split("\n")) + len(e.replace.split("\n")) for e in edits)
    changed_bytes = sum(len(e.search.encode()) + len(e.replace.encode()) for e in edits)
    return Proposal(summary=summary, how=how, files=list(added), added=added, changed_lines=changed, changed_bytes=changed_bytes,
                    edits=edits, confidence=confidence)


def propose_llm(run: Run, wt_path: Path, issue: dict[str, Any], diagnosis: dict[str, Any], feedback: str | None, *,
                wants_test: bool = False) -> Proposal:
    from agent_cli.fix.prompts import SYSTEM, fix_prompt
    from agent_cli.llm import ToolCaller
    from agent_cli.llm_schema import PROPOSE_FIX, FixAnswer
    from agent_cli.redact import redact

    culprit = diagnosis.get("culprit") or {}
    wanted = list(dict.fromkeys([*diagnosis.get("affected_files", []), *([culprit["path"]] if culprit.get("path") else [])]))
    files: dict[str, str] = {}
    protected = gate.builtin_protected(run.settings)
    for path in wanted:
        rejection, _ = gate.check_path(wt_path, path, run.settings.policy, protected)
        target = wt_path / path
        if rejection is None and target.is_file():
            files[path] = target.read_text(encoding="utf-8", errors="replace")[:MAX_FILE_CHARS_FOR_LLM]
    prompt = redact(fix_prompt(issue, diagnosis, files, feedback, wants_test=wants_test), emails=run.settings.diagnose.redact_emails)
    answer, _cost = ToolCaller(run.settings, run.state, run_id=run.run_id).ask(
        issue_id=issue["id"], step="fix", system=SYSTEM, prompt=prompt, tool=PROPOSE_FIX, answer=FixAnswer
    )
    return _edit_proposal(answer.edits, answer.summary, f"{answer.summary} (proposed by {run.settings.llm.model})", answer.confidence)


