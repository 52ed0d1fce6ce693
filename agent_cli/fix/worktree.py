"""Temporary git worktrees for building fixes: the user's checkout, index and stash are never touched.

They live under `[agent] workdir` (by default outside the checkout, in the user's
cache directory), in a directory namespaced by repository.
"""

from __future__ import annotations

from pathlib import Path

from agent_cli.config import Settings
from agent_cli.gitrepo import GitError, GitRepo

BRANCH_PREFIX = "agent/fix-"


def base_ref(git: GitRepo, settings: Settings) -> tuple[str, str]:
    """(ref name, sha) of the production branch head, fetched from its remote when there is one."""
    production = settings.environments.get("production")
    branch = production.branch if production else "main"
    remote = production.remote if production else "origin"
    remotes = git.run("remote").split()
    if remote in remotes:
        git.run("fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        sha = git.resolve(f"refs/remotes/{remote}/{branch}")
        if sha:
            return f"{remote}/{branch}", sha
    for ref in (f"refs/heads/{branch}", "HEAD"):
        sha = git.resolve(ref)
        if sha:
            return ref.removeprefix("refs/heads/"), sha
    raise GitError(f"no commit to build on: neither {remote}/{branch}, {branch} nor HEAD resolves")


def add(git: GitRepo, path: Path, base_sha: str) -> GitRepo:
    """A detached tree at `base_sha`: validation runs here; branches are made from gated objects, never from it."""
    return git.add_worktree(path, base_sha)


def remove(git: GitRepo, path: Path) -> None:
    git.remove_worktree(path)


def delete_branch(git: GitRepo, branch: str) -> None:
    if git.resolve(f"refs/heads/{branch}"):
        git.run("branch", "-D", branch)
