"""Changing an environment branch on its remote: a commit made in a throwaway tree at the remote head, pushed forward.

A push refused because the branch moved is redone once on the new head; any other refusal,
a conflict or a timeout is a StepFailed that names it. Nothing is pushed half-made.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_cli.errors import StepFailed
from agent_cli.gitrepo import GitError, GitRepo, MergeConflict, PushRejected, committer_env

if TYPE_CHECKING:
    from agent_cli.config import EnvironmentConfig, Settings

# Makes the commit to push, in a work tree at `head`; returns its sha (or `head` itself when nothing is to change).
MakeCommit = Callable[[GitRepo, str], str]


@dataclass
class Pushed:
    sha: str
    head_before: str
    retried: bool


def head(git: GitRepo, env: "EnvironmentConfig") -> str | None:
    return git.fetch_branch(env.remote, env.branch)


def push_change(settings: "Settings", git: GitRepo, env: "EnvironmentConfig", make: MakeCommit, *, what: str) -> Pushed:
    """Fetch the branch, make the commit on its head in a throwaway tree, push it; once more if the branch moved meanwhile."""
    for attempt in (1, 2):
        current = head(git, env)
        if current is None:
            raise StepFailed(f"{what}: {env.remote} has no branch {env.branch}")
        path = settings.workdir_path / f"release-{uuid.uuid4().hex[:10]}"
        tree = git.add_worktree(path, current)
        try:
            sha = make(tree, current)
        except MergeConflict as exc:
            raise StepFailed(f"{what}: {exc.message}") from None
        except GitError as exc:
            raise StepFailed(f"{what}: {exc.message}") from None
        finally:
            git.remove_worktree(path)
        if sha == current:
            return Pushed(sha, current, attempt == 2)
        try:
            git.push(env.remote, sha, env.branch)
        except PushRejected as exc:
            if exc.kind == "moved" and attempt == 1:
                continue
            raise StepFailed(f"{what}: {exc.message}") from None
        except GitError as exc:
            raise StepFailed(f"{what}: {exc.message}") from None
        return Pushed(sha, current, attempt == 2)
    raise StepFailed(f"{what}: push to {env.remote}/{env.branch} rejected twice: the branch keeps moving")  # pragma: no cover


def reset_to(git: GitRepo, env: "EnvironmentConfig", target: str, lease: str, *, what: str) -> Pushed:
    """`--strategy reset`: the branch put back at `target`, only if it is still at `lease` (force-with-lease)."""
    try:
        git.push(env.remote, target, env.branch, lease=lease)
    except GitError as exc:
        raise StepFailed(f"{what}: {exc.message}") from None
    return Pushed(target, lease, False)


def undo_commits(commits: list[str], message: str, settings: "Settings") -> MakeCommit:
    """A MakeCommit reverting `commits` (newest first; merges against their first parent) in one commit."""
    def make(tree: GitRepo, _head: str) -> str:
        return tree.revert(commits, message, committer_env(settings.agent.committer))
    return make


def restore(ref: str, message: str, settings: "Settings") -> MakeCommit:
    """A MakeCommit whose content is `ref`'s: everything after `ref` undone."""
    def make(tree: GitRepo, current: str) -> str:
        if tree.run("rev-parse", f"{ref}^{{tree}}").strip() == tree.run("rev-parse", f"{current}^{{tree}}").strip():
            return current
        return tree.restore_tree(ref, message, committer_env(settings.agent.committer))
    return make


def revert_message(title: str, reason: str, reverted: list[str], env_name: str) -> str:
    """A revert's commit message, with the trailers that say what it undid (rate limits and reconcile read them)."""
    trailers = "".join(f"Agent-Rollback-Of: {sha}\n" for sha in reverted[:50])
    return f"{title}\n\n{reason.strip()[:2000]}\n\nAgent-Deploy-Env: {env_name}\n{trailers}"


def deployed_commits(git: GitRepo, previous: str, deployed: str) -> list[str]:
    """What a deploy put on the branch, newest first: its merge commit alone, or the fast-forwarded commits."""
    if len(git.parents(deployed)) > 1 and git.parents(deployed)[0] == previous:
        return [deployed]
    return list(reversed(git.commits_between(previous, deployed)))
