"""The user's checkout must come out of an attempt exactly as it went in.

A fingerprint of what model-written code could change in the checkout: HEAD,
the index, every dirty or untracked file (status and content), git's hooks,
config, info files and refs. Taken before and after each attempt; any
difference refuses the attempt. Under bubblewrap it can never fire; in portable
mode it is the last line of defence.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

Fingerprint = dict[str, str]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _git(repo: Path, *args: str) -> str:
    # --no-optional-locks: taking the fingerprint must not itself refresh (rewrite) the index.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(["git", "--no-optional-locks", *args], cwd=repo, capture_output=True, timeout=120,
                          env={**env, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else f"(git {args[0]} failed: exit {done.returncode})"


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []


def fingerprint(repo: Path) -> Fingerprint:
    common = Path(_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip() or repo / ".git")
    found: Fingerprint = {
        "HEAD": _git(repo, "rev-parse", "HEAD").strip() + " " + _git(repo, "symbolic-ref", "-q", "HEAD").strip(),
        "index": _digest(common / "index"),
        ".git/config": _digest(common / "config"),
    }
    for name in ("hooks", "info"):
        for path in _files(common / name):
            found[f".git/{path.relative_to(common)}"] = _digest(path)
    for row in _git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
        ref, _, sha = row.partition(" ")
        found[f"ref {ref}"] = sha
    status = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    for entry in status.split("\0"):
        if len(entry) > 3:
            code, path = entry[:2], entry[3:]
            found[f"file {path}"] = f"{code} {_digest(repo / path)}"
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
