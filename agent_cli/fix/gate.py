"""The safety gate every change passes before it touches a tree (edits) or a branch (reverts).

Paths are normalised before any rule sees them (`a//b`, `x/.`, `dir/`), and
matched case-insensitively, so a spelling can never slip past a glob. Each
refusal names its rule.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from agent_cli.config import PolicySection
from agent_cli.paths import matching_glob
from agent_cli.redact import find_secrets

if TYPE_CHECKING:
    from agent_cli.config import Settings

MAX_DIFF_LINES = 500  # changed lines; a bigger fix is not a fix a machine should ship
MAX_DIFF_BYTES = 100_000  # added plus removed text: a few long lines are as big as many short ones
# Protected whatever protected_paths says: CI definitions and git metadata run or steer code outside validation.
BUILTIN_PROTECTED = (".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", ".gitattributes", ".gitmodules", ".husky/**")
# Characters a shell gives a meaning to, and a leading '-' (an option to git or a tool). Brackets and
# parentheses stay allowed: Next.js routes are named `[id].tsx` and `(group)/`; {files} quotes them.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069`$;&|<>{}*?!'\"\\]|^-|/-")


@dataclass
class GateResult:
    rejected: list[str] = field(default_factory=list)  # each names its rule
    approval: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def normalise(path: str) -> str:
    """The repo-relative POSIX spelling of `path`: `./a//b/.` and `a/b/` both become `a/b` (the gate refuses `..` first)."""
    return posixpath.normpath(path) if path else path


def builtin_protected(settings: "Settings") -> list[str]:
    """BUILTIN_PROTECTED plus the agent's own config file, state directory and work directory when inside the repo."""
    repo = settings.repo_path
    globs = list(BUILTIN_PROTECTED)
    for path, is_dir in ((settings.config_path, False), (settings.state_path.parent, True), (settings.workdir_path, True)):
        if path is None:
            continue
        try:
            rel = Path(path).resolve().relative_to(repo).as_posix()
        except ValueError:
            continue
        if rel and rel != ".":
            globs.append(f"{rel}/**" if is_dir else rel)
    return globs


def check_path(root: Path, path: str, policy: PolicySection, extra_protected: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """(rejection, approval reason) for one repo-relative path."""
    if _UNSAFE.search(path):
        return f"{path!r}: control or shell characters in a path (rule: plain file names only)", None
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return f"{path}: absolute path (rule: edits stay inside the repository)", None
    if ".." in pure.parts:
        return f"{path}: outside the repository (rule: no '..' in paths)", None
    norm = normalise(path)
    if norm in ("", "."):
        return f"{path!r}: not a file (rule: edits name a file)", None
    if any(part.lower() == ".git" for part in PurePosixPath(norm).parts):
        return f"{path}: inside .git (rule: edits stay out of git's own files)", None
    # No component may be a symlink: an edit must never write through one.
    current = root
    for part in PurePosixPath(norm).parts:
        current = current / part
        if current.is_symlink():
            return f"{path}: goes through the symlink {current.relative_to(root)} (rule: no edits through symlinks)", None
    try:
        (root / norm).resolve().relative_to(root.resolve())
    except ValueError:
        return f"{path}: resolves outside the repository (rule: edits stay inside the repository)", None
    folded = norm.lower()
    rule = matching_glob(folded, [p.lower() for p in policy.protected_paths])
    if rule:
        return f"{path}: protected path (rule: policy.protected_paths {rule!r})", None
    rule = matching_glob(folded, [p.lower() for p in extra_protected])
    if rule:
        return f"{path}: protected path (rule: built-in protected {rule!r})", None
    rule = matching_glob(folded, [p.lower() for p in policy.approval_paths])
    return None, (f"{path} needs approval (rule: policy.approval_paths {rule!r})" if rule else None)


def check(root: Path, added: dict[str, str], changed_lines: int, changed_bytes: int, policy: PolicySection,
          extra_protected: Iterable[str] = ()) -> GateResult:
    """Gate a change: `added` maps each changed path to the text it adds."""
    result = GateResult()
    extra = list(extra_protected)
    for path in added:
        rejection, approval = check_path(root, path, policy, extra)
        if rejection:
            result.rejected.append(rejection)
        if approval:
            result.approval.append(approval)
    if changed_lines > MAX_DIFF_LINES:
        result.rejected.append(f"{changed_lines} changed lines (rule: diff size at most {MAX_DIFF_LINES} lines)")
    if changed_bytes > MAX_DIFF_BYTES:
        result.rejected.append(f"{changed_bytes} changed bytes (rule: diff size at most {MAX_DIFF_BYTES} bytes)")
    secrets = sorted({kind for path, text in added.items() for kind in find_secrets(text, path=path)})
    if secrets:
        result.rejected.append(f"the change adds what looks like a secret ({', '.join(secrets)}) (rule: no secrets in fixes)")
    if len(added) > policy.max_files_changed:
        result.approval.append(f"{len(added)} files changed (rule: policy.max_files_changed {policy.max_files_changed})")
    return result
