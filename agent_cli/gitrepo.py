"""Git behind one small class; every git failure becomes our GitError.

Each call is a `git` subprocess that cannot hang the agent or wait for a person:

- a timeout (`[agent] git_timeout_s`, given to each `GitRepo`: `GitRepo.of(settings)`; never
  a process-wide setting, so two configurations in one process do not share one), after
  which git and everything it started (git-remote-http, ssh) is stopped as one
  process group (SIGTERM, so git removes its lock files, then SIGKILL);
- no terminal: git runs in a session of its own with stdin closed, and with
  GIT_TERMINAL_PROMPT=0, ssh in BatchMode, GCM_INTERACTIVE=never, no pager and
  no editor, so nothing can ask for a password, a passphrase or a host key;
- variables that would point git at another repository (GIT_DIR, GIT_INDEX_FILE,
  ... as when the agent is started from a git hook) are dropped.

Not GitPython: its `kill_after_timeout` finds git's children with pgrep/ps and
SIGKILLs them one by one; without pgrep and ps only git itself dies, and a hung
git-remote-http keeps the pipe open, so the call never returns. A process group
has no such gap, and a missing git binary is a GitError here, not an ImportError
at `import git`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent_cli.errors import StepFailed

_SHA = re.compile(r"[0-9a-f]{40}")

DEFAULT_TIMEOUT_S = 120.0
_TERM_GRACE_S = 2.0

# What `git rev-parse --local-env-vars` lists as locating a repository: inherited, they would redirect our calls.
_LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE", "GIT_GRAFT_FILE", "GIT_NAMESPACE",
)
NON_INTERACTIVE = {
    "GIT_TERMINAL_PROMPT": "0",  # git's own username/password prompt
    "GCM_INTERACTIVE": "never",  # Git Credential Manager: no dialogs
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": ":",  # ":" is git's "no editor"
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_MERGE_AUTOEDIT": "no",
    "LC_ALL": "C",  # messages in English: they are parsed and shown
    "LANGUAGE": "C",
}
# Verbs that may talk to a remote (and so may run ssh).
_NETWORK_VERBS = {"fetch", "push", "pull", "ls-remote", "clone", "remote", "submodule"}
_BOILERPLATE = {"Please make sure you have the correct access rights", "and the repository exists."}
_URL_CREDENTIALS = re.compile(r"(://)[^/\s@]+@")


class GitError(StepFailed):
    """A git command failed, timed out, or git could not be run at all."""

    def __init__(self, message: str, *, command: tuple[str, ...] = (), stderr: str = "", returncode: int | None = None,
                 timed_out: bool = False) -> None:
        super().__init__(message)
        self.command = command  # the argv, "git" first
        self.stderr = stderr
        self.returncode = returncode  # None: git did not run to an exit
        self.timed_out = timed_out


def _verb(args: tuple[str, ...]) -> str:
    """The subcommand, past global options such as `-c key=value` and `--no-optional-locks`."""
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in ("-c", "-C"):
            skip_next = True
        elif not arg.startswith("-"):
            return arg
    return ""


def _scrub(text: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def _summary(stderr: str) -> str:
    """git's message on one line: its last few lines that say something (no hints, no boilerplate)."""
    lines = [line.strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:") and line not in _BOILERPLATE]
    return "; ".join(lines[-3:])[:500]


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group leader is not reaped yet, so its pid (= pgid) is still ours
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Stop git and all it started; what it wrote. SIGTERM first: git then removes its lock files (a
    killed fetch must not leave refs/...lock behind to fail the next one); SIGKILL after a grace period."""
    for sig, grace in ((signal.SIGTERM, _TERM_GRACE_S), (signal.SIGKILL, 5.0)):
        _signal_group(proc, sig)
        try:
            return proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    # A descendant left the group and holds the pipes open: stop reading.
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()
    return b"", b""


class MergeConflict(GitError):
    def __init__(self, message: str, *, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class PushRejected(GitError):
    def __init__(self, message: str, *, kind: str, remote_said: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.remote_said = remote_said


def committer_env(committer: str) -> dict[str, str]:
    """Author and committer variables for `[agent] committer` ("name <email>")."""
    name, _, rest = committer.partition("<")
    email = rest.rstrip(">").strip() or "agent-cli@localhost"
    name = name.strip() or "agent-cli"
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


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


_UNSET: Any = object()


class GitRepo:
    def __init__(self, path: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """`path`: a work tree (its `.git` a directory or a worktree's file) or a bare repository; every call is killed
        (with its children) after `timeout_s`."""
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._ssh: Any = _UNSET
        if not self.path.is_dir():
            raise GitError(f"{path} is not a git repository: no such directory")
        if not ((self.path / ".git").exists() or ((self.path / "HEAD").is_file() and (self.path / "objects").is_dir())):
            raise GitError(f"{path} is not a git repository")

    @classmethod
    def of(cls, settings: Any) -> "GitRepo":
        """The application's repository, with `[agent] git_timeout_s` on every call (no process-wide setting)."""
        return cls(settings.repo_path, settings.agent.git_timeout_s)

    @property
    def timeout(self) -> float:
        return self.timeout_s

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """`git <args>` in the repository; its stdout. Raises GitError naming the command, with git's own message."""
        return self._execute(args, env, network=_verb(args) in _NETWORK_VERBS)

    def _execute(self, args: tuple[str, ...], env: dict[str, str] | None, *, network: bool) -> str:
        argv = ["git", *args]
        command = tuple(_scrub(a) for a in argv)  # what errors carry: never a URL's credentials
        verb = _verb(args) or "git"
        timeout = self.timeout
        full_env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
        full_env.update(NON_INTERACTIVE)
        if network:
            ssh = self._ssh_command()
            if ssh is not None:
                full_env["GIT_SSH_COMMAND"] = ssh
        full_env.update(env or {})
        try:
            proc = subprocess.Popen(argv, cwd=self.path, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            if not self.path.is_dir():
                raise GitError(f"git {verb} failed: {self.path} does not exist", command=command) from None
            raise GitError(f"git is not installed or not on PATH (needed to run `git {verb}`)", command=command) from None
        except OSError as exc:
            raise GitError(f"git {verb} could not run: {exc.strerror or exc}", command=command) from None
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = _stop(proc)
            raise GitError(f"git {verb} timed out after {timeout:g}s", command=command, stderr=_scrub(err.decode("utf-8", "replace")),
                           timed_out=True) from None
        except BaseException:  # Ctrl-C (git has no terminal, so it did not see it) or anything else: git must not outlive us
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
            raise
        if proc.returncode != 0:
            stderr = _scrub(err.decode("utf-8", "replace"))
            raise GitError(f"git {verb} failed: {_summary(stderr) or f'exit {proc.returncode}'}", command=command, stderr=stderr,
                           returncode=proc.returncode)
        return out.decode("utf-8", "replace")

    def _ssh_command(self) -> str | None:
        """ssh as git would run it, in batch mode: never a passphrase, password or host-key question."""
        if self._ssh is _UNSET:
            base = os.environ.get("GIT_SSH_COMMAND")
            if not base and os.environ.get("GIT_SSH"):
                self._ssh = None  # a program, not a command line: it cannot take options (and has no terminal anyway)
                return None
            if not base:
                try:
                    base = self._execute(("config", "--get", "core.sshCommand"), None, network=False).strip()
                except GitError as exc:
                    if exc.returncode != 1:  # 1: not set
                        raise
            self._ssh = f"{base or 'ssh'} -o BatchMode=yes"
        return self._ssh

    def resolve(self, ref: str) -> str | None:
        """The commit `ref` names, or None if it names none. A git that fails otherwise (timeout, no git) raises."""
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip() or None
        except GitError as exc:
            if exc.returncode == 1:  # --verify --quiet: exit 1, silently, for "no such commit"
                return None
            raise

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

    # --- remotes, merges and reverts (release) ----------------------------------------------------

    def fetch_branch(self, remote: str, branch: str) -> str | None:
        """`remote`'s `branch` head, fetched into refs/remotes/<remote>/<branch>; None when the remote has no such branch."""
        try:
            self.run("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except GitError as exc:
            if "couldn't find remote ref" in exc.stderr.lower():
                return None
            raise
        return self.resolve(f"refs/remotes/{remote}/{branch}")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self.run("merge-base", "--is-ancestor", ancestor, descendant)
            return True
        except GitError as exc:
            if exc.returncode == 1:
                return False
            raise

    def parents(self, sha: str) -> list[str]:
        return self.run("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def commits_between(self, old: str, new: str) -> list[str]:
        """The commits reachable from `new` and not from `old`, oldest first."""
        return self.run("rev-list", "--reverse", f"{old}..{new}").split()

    def message(self, sha: str) -> str:
        return self.run("log", "-1", "--format=%B", sha)

    def add_worktree(self, path: Path, sha: str) -> "GitRepo":
        """A detached work tree at `sha` beside this repository; no hooks run (they would run outside any sandbox)."""
        from agent_cli.paths import ensure_private_dir

        ensure_private_dir(path.parent)
        self.run("-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "--detach", str(path), sha)
        return GitRepo(path, self.timeout_s)

    def remove_worktree(self, path: Path) -> None:
        import shutil

        try:
            self.run("worktree", "remove", "--force", str(path))
        except GitError:
            shutil.rmtree(path, ignore_errors=True)
        self.run("worktree", "prune")

    def merge(self, sha: str, message: str, env: dict[str, str]) -> str:
        """In this work tree: merge `sha` into HEAD as a merge commit; the new HEAD. MergeConflict names the files."""
        try:
            self.run("-c", "core.hooksPath=/dev/null", "merge", "--no-ff", "--no-edit", "-m", message, sha, env=env)
        except GitError as exc:
            self._abort_conflict("merge", exc)
        return self.run("rev-parse", "HEAD").strip()

    def revert(self, shas: list[str], message: str, env: dict[str, str]) -> str:
        """In this work tree: one commit undoing `shas` (newest first; merge commits against their first parent)."""
        try:
            for sha in shas:
                mainline = ["-m", "1"] if len(self.parents(sha)) > 1 else []
                self.run("-c", "core.hooksPath=/dev/null", "revert", "--no-commit", *mainline, sha, env=env)
        except GitError as exc:
            self._abort_conflict("revert", exc)
        return self.commit_staged(message, env)

    def restore_tree(self, ref: str, message: str, env: dict[str, str]) -> str:
        """A commit on HEAD whose content is `ref`'s: every change after `ref` undone, merges included, no conflict possible."""
        tree = self.run("rev-parse", f"{ref}^{{tree}}").strip()
        head = self.run("rev-parse", "HEAD").strip()
        return self.commit_tree(tree, head, message, env)

    def commit_staged(self, message: str, env: dict[str, str]) -> str:
        self.run("-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message, env=env)
        return self.run("rev-parse", "HEAD").strip()

    def _abort_conflict(self, verb: str, exc: GitError) -> None:
        files = [f for f in self.run("diff", "--name-only", "--diff-filter=U").split("\n") if f]
        try:
            self.run(verb, "--abort")
        except GitError:
            pass
        if files:
            raise MergeConflict(f"git {verb} conflicts in {', '.join(files[:20])}", files=files) from None
        raise exc

    def push(self, remote: str, sha: str, branch: str, *, lease: str | None = None) -> None:
        """Point `remote`'s `branch` at `sha`: a fast-forward, or with `lease` a force-with-lease over that old head.

        PushRejected says why: the branch moved (`moved`), a hook or the server refused (`refused`, with its message).
        """
        args = ["push", remote]
        if lease is not None:
            args += [f"--force-with-lease=refs/heads/{branch}:{lease}", f"+{sha}:refs/heads/{branch}"]
        else:
            args.append(f"{sha}:refs/heads/{branch}")
        try:
            self.run(*args)
        except GitError as exc:
            if exc.timed_out:
                raise
            text = exc.stderr + "\n" + str(exc)
            said = [ln[len("remote:"):].strip() for ln in exc.stderr.splitlines() if ln.startswith("remote:") and ln[7:].strip()]
            lowered = text.lower()
            if any(k in lowered for k in ("non-fast-forward", "fetch first", "stale info", "[rejected]")):
                raise PushRejected(f"push to {remote}/{branch} rejected: the branch moved", kind="moved", remote_said=said) from None
            if said or "remote rejected" in lowered or "hook declined" in lowered:
                why = "; ".join(said) or _summary(exc.stderr)
                raise PushRejected(f"push to {remote}/{branch} refused by the remote: {why}"[:800], kind="refused", remote_said=said) from None
            raise

    def changed_lines(self, old: str, new: str) -> dict[str, list[tuple[int, int]]]:
        """Per file, the line ranges (first, last) of `new` that differ from `old`."""
        out: dict[str, list[tuple[int, int]]] = {}
        current = ""
        for line in self.run("diff", "--no-renames", "-U0", old, new).split("\n"):
            if line.startswith("+++ "):
                current = line[6:] if line.startswith("+++ b/") else ""
            elif line.startswith("@@") and current:
                m = re.search(r"\+(\d+)(?:,(\d+))?", line)
                if m:
                    first, n = int(m.group(1)), int(m.group(2) or 1)
                    out.setdefault(current, []).append((first, first + max(n, 1) - 1))
        return out

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
