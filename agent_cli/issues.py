"""Issues for `agent issues` and `agent show`: reading them, and a person resolving or ignoring one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent_cli import audit
from agent_cli.errors import ConfigError
from agent_cli.state import State
from agent_cli.store import diagnoses as store_diagnoses
from agent_cli.store import fixes as store_fixes
from agent_cli.store import issues as store_issues

_JSON_COLUMNS = {"request_paths", "frames", "request", "affected_files", "adjustments", "culprit", "suspect_commit", "files",
                 "validation", "details", "context", "approval_reasons", "evidence_detail"}


def decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their JSON columns (lists and objects) decoded."""
    out = []
    for row in rows:
        for key in _JSON_COLUMNS & row.keys():
            if isinstance(row[key], str) and row[key][:1] in "[{":
                row[key] = json.loads(row[key])
        out.append(row)
    return out


def load(state: State, issue_id: int) -> dict[str, Any]:
    """What the steps work from: the issue's row, its sample events, diagnoses and fix attempts, JSON decoded.

    Not the `agent show` view (agent_cli.views adds deployments, related issues, LLM cost and the audit timeline).
    """
    found = store_issues.row(state, issue_id)
    if found is None:
        raise ConfigError(f"no issue {issue_id} (see `agent issues`)")
    issue = decoded([found])[0]
    issue["auto_fixable"] = bool(issue["auto_fixable"])
    issue["events"] = decoded(store_issues.events(state, issue_id))
    issue["diagnoses"] = decoded(store_diagnoses.of_issue(state, issue_id))
    issue["fixes"] = decoded(store_fixes.of_issue(state, issue_id))
    return issue


def committed_fix(issue: dict[str, Any]) -> dict[str, Any] | None:
    """The current committed fix among a loaded issue's attempts, or None (a replaced one is `superseded`)."""
    return next((f for f in reversed(issue["fixes"]) if f["status"] == "committed"), None)


# A person's actions on an issue ------------------------------------------------------------------------

# action -> (target status, the statuses in which the person's intent already holds: a no-op, exit 0)
ACTIONS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "resolve": ("resolved", lambda status: status == "resolved"),
    "ignore": ("ignored", lambda status: status == "ignored"),
    "unignore": ("detected", lambda status: status != "ignored"),
}


def operator_name() -> str:
    """Who is at the keyboard (the OS user), for the audit record."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def set_issue_status(state: State, issue_id: int, action: str, reason: str, *, run_id: str | None = None) -> dict[str, Any]:
    """`agent issues resolve|ignore|unignore`: a person moves one issue, through transitions.move, audited.

    Like pause/resume, asking for what already holds (resolving a resolved issue, ignoring an ignored one,
    un-ignoring one that is not ignored) changes nothing and exits 0, audited as `unchanged`. A move the
    transition table forbids (resolving an ignored issue: un-ignore it first) is refused by transitions
    (PolicyRefused, exit 3, audited). An unknown issue or an empty reason is a usage error (exit 2).
    """
    from agent_cli import transitions

    target, holds = ACTIONS[action]
    reason = (reason or "").strip()
    if not reason:
        raise ConfigError(f"`agent issues {action}` needs --reason TEXT (it is audited)")
    current = store_issues.status(state, issue_id)
    if current is None:
        raise ConfigError(f"no issue {issue_id} (see `agent issues`)")
    by = operator_name()
    details = {"by": by, "action": action}
    result = {"id": issue_id, "action": action, "old_status": current, "reason": reason, "by": by}
    if holds(current):
        audit.record(state, step="issues", decision="unchanged", issue_id=issue_id, run_id=run_id,
                     reason=f"{action}: issue is {current} already ({reason})", details=details)
        return {**result, "new_status": current, "changed": False}
    # `expect`: if the issue moved since it was read, refuse rather than clobber.
    transitions.move(state, issue_id, target, step="issues", reason=reason, run_id=run_id, details=details, expect=current)
    return {**result, "new_status": target, "changed": True}
