"""Path rules shared by scan, diagnose, fix and policy: globs with `**`, repo mapping."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath

# Where deployed code usually lives; stripped to find the file in the repo.
DEPLOY_PREFIXES = ("/app/", "/var/task/", "/usr/src/app/", "/opt/app/", "/code/", "/workspace/", "/home/app/")
_SRV_PREFIX = re.compile(r"^/srv/[^/]+/")
VENDORED_MARKERS = ("site-packages/", "dist-packages/", "node_modules/", "/lib/python", "<frozen", "node:internal", "internal/")


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`**` spans directories, `*` and `?` stay within one; a pattern without `/` matches any basename."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    body = "".join(out)
    if "/" not in pattern:
        body = "(?:.*/)?" + body
    return re.compile(body + r"\Z")


def matching_glob(path: str, patterns: Iterable[str]) -> str | None:
    """The first pattern that matches the repo-relative POSIX `path`, or None."""
    path = path.removeprefix("./")
    for pattern in patterns:
        if _glob_regex(pattern).match(path):
            return pattern
    return None


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents); a directory the agent creates gets a `.gitignore` of `*`, so it never shows in
    the user's `git status` wherever it lies, without editing theirs."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    if missing:  # the top-most new directory: git ignores everything below it
        (missing[-1] / ".gitignore").write_text("*\n", encoding="utf-8")


def is_vendored(file: str) -> bool:
    return any(marker in file for marker in VENDORED_MARKERS) or file.startswith("<")


def to_repo_path(file: str, repo: Path) -> str | None:
    """Map a stack-frame path to a repo-relative path of an existing regular file, or None.

    Absolute paths inside the repo map directly; deploy prefixes (/app/, /var/task/,
    /srv/<name>/, ...) are stripped; otherwise leading directories are dropped until
    the remainder exists in the repo. Vendored code is never in the repo's code.
    """
    if not file or is_vendored(file):
        return None
    file = file.split("?", 1)[0].removeprefix("file://")
    candidates: list[str] = []
    posix = PurePosixPath(file)
    try:
        candidates.append(str(PurePosixPath(file).relative_to(repo.as_posix())))
    except ValueError:
        pass
    for prefix in DEPLOY_PREFIXES:
        if file.startswith(prefix):
            candidates.append(file[len(prefix):])
    if _SRV_PREFIX.match(file):
        candidates.append(_SRV_PREFIX.sub("", file))
    parts = [p for p in posix.parts if p not in ("/", "")]
    candidates.extend("/".join(parts[i:]) for i in range(len(parts)))
    repo_resolved = repo.resolve()
    for candidate in candidates:
        if not candidate or candidate.startswith("..") or candidate.startswith("/"):
            continue
        full = repo / candidate
        try:
            if full.is_file() and not full.is_symlink() and full.resolve().is_relative_to(repo_resolved):
                return PurePosixPath(candidate).as_posix()
        except OSError:
            continue
    return None
