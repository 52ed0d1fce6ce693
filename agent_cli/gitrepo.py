"""Git behind one small class; every git failure becomes our GitError.

GitPython (and so the `git` module) is imported here only, on first use: a
cron cycle with nothing to diagnose never pays for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent_cli.errors import StepFailed

_SHA = re.compile(r"[0-9a-f]{40}")


class GitError(StepFailed):
    """A git command failed."""


@dataclass
class Commit:
    sha: str
    author: str
    authored_at: datetime
    subject: str

    @property
    def age_hours(self) -> float:
        return (datetime.now(timezone.utc) - self.authored_at).total_seconds() / 3600

    def as_dict(self) -> dict[str, Any]:
        return {"sha": self.sha, "author": self.author, "authored_at": self.authored_at.isoformat(),
                "age_hours": round(self.age_hours, 2), "subject": self.subject}


class GitRepo:
    def __init__(self, path: Path) -> None:
        import git

        self.path = path
        try:
            self._repo = git.Repo(path)
        except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError) as exc:
            raise GitError(f"{path} is not a git repository: {exc}") from None

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """`git <args>` in the repository; raises GitError with git's own message."""
        import git

        try:
            return self._repo.git.execute(["git", *args], strip_newline_in_stdout=False, env=env)
        except git.exc.GitCommandError as exc:
            detail = (exc.stderr or "").strip().replace("stderr: ", "").strip("'\n ") or str(exc)
            verb = next((a for a in args if not a.startswith("-") and "=" not in a), "")
            raise GitError(f"git {verb} failed: {detail.splitlines()[-1] if detail else exc.status}") from None

    def resolve(self, ref: str) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip() or None
        except GitError:
            return None

    def tree_with(self, base: str, contents: dict[str, str]) -> str:
        """A tree object: `base` with each path's text replaced, built in a throwaway index (no work tree involved)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="agent-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.run("read-tree", base, env=env)
            blob_file = Path(tmp) / "blob"
            for path, text in contents.items():
                blob_file.write_bytes(text.encode("utf-8"))
                blob = self.run("hash-object", "-w", f"--path={path}", str(blob_file)).strip()
                listed = self.run("ls-tree", base, "--", path).split(" ", 1)[0]
                mode = listed if listed in ("100644", "100755") else "100644"
                self.run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
            return self.run("write-tree", env=env).strip()

    def commit_tree(self, tree: str, parent: str, message: str, env: dict[str, str]) -> str:
        """A commit of `tree` on `parent`, made from objects alone: no index, no work tree, no hooks."""
        return self.run("commit-tree", tree, "-p", parent, "-m", message, env=env).strip()

    def create_branch(self, branch: str, sha: str) -> None:
        """refs/heads/`branch` at `sha`; fails if it already exists (never moves someone's branch)."""
        self.run("update-ref", f"refs/heads/{branch}", sha, "0" * 40)

    def changed_files(self, old: str, new: str) -> list[str]:
        return [f for f in self.run("diff", "--name-only", "--no-renames", old, new).split("\n") if f]

    def blame(self, path: str, start: int, end: int, rev: str = "HEAD") -> dict[int, Commit]:
        """Line number -> the commit that last touched it."""
        out = self.run("blame", "--porcelain", "-L", f"{start},{end}", rev, "--", path)
        meta: dict[str, dict[str, str]] = {}
        line_sha: dict[int, str] = {}
        current: str | None = None
        for row in out.split("\n"):
            if not row or row.startswith("\t"):
                continue
            head = row.split(" ")
            if len(head) >= 3 and _SHA.fullmatch(head[0]):
                current = head[0]
                line_sha[int(head[2])] = current
                meta.setdefault(current, {})
            elif current is not None:
                key, _, value = row.partition(" ")
                meta[current].setdefault(key, value)
        return {
            line: Commit(
                sha=sha,
                author=meta[sha].get("author", "?"),
                authored_at=datetime.fromtimestamp(int(meta[sha].get("author-time", "0")), timezone.utc),
                subject=meta[sha].get("summary", ""),
            )
            for line, sha in line_sha.items()
        }

    def function_history(self, path: str, function: str, since_days: float, rev: str = "HEAD", limit: int = 20) -> list[tuple[Commit, int]]:
        """Commits that changed `function` in `path` (git log -L), each with its count of non-blank changed lines."""
        out = self.run(
            "log", f"-L:{re.escape(function)}:{path}", f"--since={int(since_days * 86400)} seconds ago", f"-n{limit}",
            "--format=COMMIT%x1f%H%x1f%an%x1f%at%x1f%s", rev,
        )
        history: list[tuple[Commit, int]] = []
        for chunk in out.split("COMMIT\x1f")[1:]:
            header, _, patch = chunk.partition("\n")
            sha, author, when, subject = (header.split("\x1f") + ["", "", "0", ""])[:4]
            changed = sum(
                1 for line in patch.split("\n")
                if line[:1] in ("+", "-") and not line.startswith(("+++", "---")) and line[1:].strip()
            )
            history.append((Commit(sha, author, datetime.fromtimestamp(int(when), timezone.utc), subject), changed))
        return history

    def recent_commits(self, paths: list[str], since_days: float, rev: str = "HEAD") -> list[Commit]:
        """Commits of the last `since_days` days that touched any of `paths`, newest first."""
        if not paths:
            return []
        out = self.run("log", f"--since={int(since_days * 86400)} seconds ago", "--format=%H%x1f%an%x1f%at%x1f%s", rev, "--", *paths)
        commits = []
        for row in out.splitlines():
            parts = row.split("\x1f")
            if len(parts) == 4:
                commits.append(Commit(parts[0], parts[1], datetime.fromtimestamp(int(parts[2]), timezone.utc), parts[3]))
        return commits
