"""Cleaning up what an interrupted or failed fix attempt left behind."""

from __future__ import annotations

import os
from pathlib import Path

from agent_cli.fix import worktree
from agent_cli.gitrepo import GitRepo
from agent_cli.runner import Run
from agent_cli.store import fixes


def _process_in(pgid: int, directory: Path) -> bool:
    """Is process `pgid` still running inside `directory`? (A reused pid elsewhere must not be killed.)"""
    try:
        cwd = Path(os.readlink(f"/proc/{pgid}/cwd"))
    except OSError:
        return False
    return cwd == directory or directory in cwd.parents


def cleanup(run: Run, git: GitRepo) -> list[str]:
    """Remove what killed or failed attempts left: worktrees, branches, validation processes.

    Only what the agent's own `building` rows record is removed; nothing else in the
    work or state directory is touched (it may belong to another repo or to a person).
    """
    cleaned: list[str] = []
    # Trees of this repository only: the work directory, or the state directory (where 0.1 kept them).
    ours = (run.settings.workdir_path, run.settings.state_path.parent / "worktrees")
    for left in fixes.building(run.state):
        fix_id, issue_id, branch, path, pgid, number = left.id, left.issue_id, left.branch, left.worktree, left.validation_pgid, left.attempt
        tree = Path(path) if path else None
        if tree is not None and not any(root in tree.parents for root in ours):
            continue  # recorded by another repository sharing this state file
        if pgid and tree is not None and _process_in(pgid, tree):
            from agent_cli.fix.validate import kill_group  # only when a killed run left a validation running

            kill_group(pgid)
        if tree is not None and tree.exists():
            worktree.remove(git, tree)
        if branch:
            worktree.delete_branch(git, branch)
        with run.state.transaction():
            if number == 0:  # a dry run's: dry runs keep no rows, even when killed
                fixes.delete(run.state, fix_id)
            else:
                fixes.abandon_interrupted(run.state, fix_id)
            run.audit(step="fix", decision="cleaned-up", issue_id=issue_id, reason=f"attempt {fix_id} was interrupted; removed its worktree and branch {branch}")
        cleaned.append(branch or path or str(fix_id))
    git.run("worktree", "prune")
    return cleaned

