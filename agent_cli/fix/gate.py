"""The safety gate every change passes before it touches a worktree (edits) or a branch (reverts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent_cli.config import PolicySection
from agent_cli.paths import matching_glob
from agent_cli.redact import find_secrets

MAX_DIFF_LINES = 500  # changed lines; a bigger fix is not a fix a machine should ship


@dataclass
class GateResult:
    rejected: list[str] = field(default_factory=list)  # each names its rule
    approval: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def check_path(root: Path, path: str, policy: PolicySection) -> tuple[str | None, str | None]:
    """(rejection, approval reason) for one repo-relative path."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return f"{path}: absolute path (rule: edits stay inside the repository)", None
    if ".." in pure.parts:
        return f"{path}: outside the repository (rule: no '..' in paths)", None
    if pure.parts and pure.parts[0] == ".git":
        return f"{path}: inside .git (rule: edits stay out of git's own files)", None
    # No component may be a symlink: an edit must never write through one.
    current = root
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            return f"{path}: goes through the symlink {current.relative_to(root)} (rule: no edits through symlinks)", None
    try:
        (root / path).resolve().relative_to(root.resolve())
    except ValueError:
        return f"{path}: resolves outside the repository (rule: edits stay inside the repository)", None
    rule = matching_glob(path, policy.protected_paths)
    if rule:
        return f"{path}: protected path (rule: policy.protected_paths {rule!r})", None
    rule = matching_glob(path, policy.approval_paths)
    return None, (f"{path} needs approval (rule: policy.approval_paths {rule!r})" if rule else None)


def check(root: Path, paths: list[str], added_text: str, changed_lines: int, policy: PolicySection) -> GateResult:
    result = GateResult()
    for path in dict.fromkeys(paths):
        rejection, approval = check_path(root, path, policy)
        if rejection:
            result.rejected.append(rejection)
        if approval:
            result.approval.append(approval)
    if changed_lines > MAX_DIFF_LINES:
        result.rejected.append(f"{changed_lines} changed lines (rule: diff size at most {MAX_DIFF_LINES})")
    secrets = find_secrets(added_text)
    if secrets:
        result.rejected.append(f"the change adds what looks like a secret ({', '.join(sorted(set(secrets)))}) (rule: no secrets in fixes)")
    if len(set(paths)) > policy.max_files_changed:
        result.approval.append(f"{len(set(paths))} files changed (rule: policy.max_files_changed {policy.max_files_changed})")
    return result
