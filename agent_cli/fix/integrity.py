"""The user's checkout must come out of an attempt exactly as it went in.

A fingerprint of what model-written code could change in the checkout: HEAD,
the index, every dirty or untracked file (status and content), git's hooks,
config, info files and refs. Taken before and after each attempt; any
difference refuses the attempt. Under bubblewrap it can never fire; in portable
mode it is the last line of defence.

Its git calls go through GitRepo (timeout, no prompts, no inherited GIT_DIR);
a git that fails raises GitError: a fingerprint that could not be taken must
never compare equal to another one that could not either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from agent_cli.gitrepo import GitRepo

Fingerprint = dict[str, str]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _git(git: GitRepo, *args: str) -> str:
    # --no-optional-locks: taking the fingerprint must not itself refresh (rewrite) the index.
    return git.run("--no-optional-locks", *args)


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []


def fingerprint(git: GitRepo) -> Fingerprint:
    """Of the checkout `git` works in. Raises GitError when git cannot answer (timed out, not installed, not a repository)."""
    repo = git.path
    # One call: the common git dir, HEAD's commit and what HEAD is ("HEAD" itself when detached).
    common_dir, head, head_ref = (_git(git, "rev-parse", "--path-format=absolute", "--git-common-dir", "HEAD", "--symbolic-full-name", "HEAD")
                                  .splitlines() + ["", "", ""])[:3]
    common = Path(common_dir.strip() or repo / ".git")
    found: Fingerprint = {
        "HEAD": f"{head.strip()} {head_ref.strip()}",
        "index": _digest(common / "index"),
        ".git/config": _digest(common / "config"),
    }
    for name in ("hooks", "info"):
        for path in _files(common / name):
            found[f".git/{path.relative_to(common)}"] = _digest(path)
    for row in _git(git, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
        ref, _, sha = row.partition(" ")
        found[f"ref {ref}"] = sha
    status = _git(git, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    for entry in status.split("\0"):
        if len(entry) > 3:
            code, name = entry[:2], entry[3:]
            found[f"file {name}"] = f"{code} {_digest(repo / name)}"
    return found


def changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What differs, one phrase each, named so a person can look."""
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key.startswith("file "):
            out.append(f"{key[5:]} changed in the checkout")
        elif key not in before:
            out.append(f"{key} appeared")
        elif key not in after:
            out.append(f"{key} disappeared")
        else:
            out.append(f"{key} changed")
    return out
