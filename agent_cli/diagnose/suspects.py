"""Suspect commits: git blame of the culprit lines, the history of the culprit function, recent file history.

A commit that removed a guard above the failing line does not show in blame
(the failing line itself is unchanged), so the function's history (`git log -L
:function:file`) is read too; a commit whose only change there is blank lines
does not count.
"""

from __future__ import annotations

from typing import Any

from agent_cli.gitrepo import Commit, GitError, GitRepo

BLAME_RADIUS = 3
# Relevance tiers: touched the failing line or changed its function > touched lines nearby > touched the file.
TIER_LINE, TIER_NEARBY, TIER_FILE = 2, 1, 0


def _function_name(frame_function: str) -> str | None:
    """The bare name `git log -L :name:file` can find: `async TeamService.getTeam [as get]` -> `getTeam`."""
    words = [w for w in frame_function.strip().split(" ") if w not in ("async", "new")]
    name = (words[0] if words else "").rsplit(".", 1)[-1]
    return None if not name or name.startswith("<") or name == "anonymous" else name


def find_suspects(git: GitRepo, *, culprit: dict[str, Any] | None, files: list[str], since_days: float, rev: str) -> list[dict[str, Any]]:
    """Commits ranked by relevance tier, then newest first (the latest change to working code is the usual culprit)."""
    found: dict[str, dict[str, Any]] = {}

    def note(commit: Commit, tier: int, **flags: bool) -> None:
        entry = found.setdefault(commit.sha, {**commit.as_dict(), "tier": TIER_FILE, "touched_culprit_line": False, "changed_culprit_function": False})
        entry["tier"] = max(entry["tier"], tier)
        for key, value in flags.items():
            entry[key] = entry[key] or value

    if culprit is not None:
        line = int(culprit["line"])
        try:
            blamed = git.blame(culprit["path"], max(1, line - BLAME_RADIUS), line + BLAME_RADIUS, rev)
        except GitError:  # the window may run past the end of the file
            try:
                blamed = git.blame(culprit["path"], line, line, rev)
            except GitError:
                blamed = {}
        for number, commit in blamed.items():
            note(commit, TIER_LINE if number == line else TIER_NEARBY, touched_culprit_line=number == line)
        function = _function_name(culprit.get("function", ""))
        if function:
            try:
                history = git.function_history(culprit["path"], function, since_days, rev)
            except GitError:
                history = []
            for commit, changed in history:
                if changed:
                    note(commit, TIER_LINE, changed_culprit_function=True)
    try:
        for commit in git.recent_commits(files, since_days, rev):
            note(commit, TIER_FILE)
    except GitError:
        pass
    # Commits made in the same second (a script, a rebase) are ordered by history: the descendant is the newer change.
    depth = {sha: _depth(git, sha) for sha in list(found)[:50]} if len({e["authored_at"] for e in found.values()}) < len(found) else {}
    return sorted(found.values(), key=lambda e: (e["tier"], e["authored_at"], depth.get(e["sha"], 0)), reverse=True)


def _depth(git: GitRepo, sha: str) -> int:
    try:
        return int(git.run("rev-list", "--count", sha).strip() or 0)
    except (GitError, ValueError):
        return 0
