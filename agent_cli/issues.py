"""Issues for `agent issues` and `agent show`: reading them, and a person resolving or ignoring one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent_cli import audit
from agent_cli.config import SEVERITIES
from agent_cli.errors import ConfigError
from agent_cli.state import ISSUE_STATUSES, State

_JSON_COLUMNS = {"request_paths", "frames", "request", "affected_files", "adjustments", "culprit", "suspect_commit", "files",
                 "validation", "details", "context", "approval_reasons", "evidence_detail"}


def _rows(state: State, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    out = []
    for row in state.rows(sql, params):
        for key in _JSON_COLUMNS & row.keys():
            if isinstance(row[key], str) and row[key][:1] in "[{":
                row[key] = json.loads(row[key])
        out.append(row)
    return out


def list_issues(state: State, *, status: str | None = None, severity: str | None = None) -> list[dict[str, Any]]:
    if status and status not in ISSUE_STATUSES:
        raise ConfigError(f"--status must be one of {', '.join(ISSUE_STATUSES)}")
    if severity and severity.upper() not in SEVERITIES:
        raise ConfigError(f"--severity must be one of {', '.join(SEVERITIES)}")
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if severity:
        where.append("severity = ?")
        params.append(severity.upper())
    sql = (
        "SELECT id, severity, status, count, affected_users, first_seen, last_seen, title, fingerprint, source, auto_fixable "
        "FROM issues" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY severity, last_seen DESC"
    )
    rows = _rows(state, sql, params)
    links = related_of(state, [r["id"] for r in rows])
    for row in rows:
        row["related"] = links.get(row["id"], [])  # [{id, kind}]: probe_window | same_throw_site (detect.related)
    return rows


def related_of(state: State, issue_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """issue id -> its related issues [{id, kind}] (issue_links, filled by detect.related at scan)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for issue_id, related_id, kind in state.db.execute(
        "SELECT issue_id, related_id, kind FROM issue_links WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY issue_id, kind, related_id",
        [json.dumps(issue_ids)],
    ).fetchall():
        out.setdefault(issue_id, []).append({"id": related_id, "kind": kind})
    return out


def related_detail(state: State, issue_id: int) -> list[dict[str, Any]]:
    """One issue's related issues for `agent show`: kind, when linked, and the other issue's severity, status, title."""
    return state.rows(
        "SELECT l.related_id AS id, l.kind, l.created_at, i.severity, i.status, i.title, i.throw_site FROM issue_links l "
        "JOIN issues i ON i.id = l.related_id WHERE l.issue_id = ? ORDER BY l.kind, l.related_id",
        [issue_id],
    )


def committed_fix(state: State, issue_id: int) -> dict[str, Any] | None:
    """The issue's current committed fix, if any (a replaced one is `superseded`)."""
    rows = state.rows("SELECT id, branch, sha, base_sha, files FROM fixes WHERE issue_id = ? AND status = 'committed' ORDER BY id DESC LIMIT 1",
                      [issue_id])
    return rows[0] if rows else None


def show_issue(state: State, issue_id: int) -> dict[str, Any]:
    found = _rows(state, "SELECT * FROM issues WHERE id = ?", [issue_id])
    if not found:
        raise ConfigError(f"no issue {issue_id} (see `agent issues`)")
    issue = found[0]
    issue["auto_fixable"] = bool(issue["auto_fixable"])
    issue["events"] = _rows(state, "SELECT * FROM events WHERE issue_id = ? ORDER BY id DESC", [issue_id])
    issue["diagnoses"] = _rows(state, "SELECT * FROM diagnoses WHERE issue_id = ? ORDER BY id", [issue_id])
    issue["fixes"] = _rows(state, "SELECT * FROM fixes WHERE issue_id = ? ORDER BY id", [issue_id])
    issue["deployments"] = _rows(state, "SELECT * FROM deployments WHERE issue_id = ? ORDER BY id", [issue_id])
    for dep in issue["deployments"]:
        dep["baseline"] = json.loads(dep["baseline"]) if isinstance(dep.get("baseline"), str) else dep.get("baseline")
        dep["samples"] = [{**r, "checks": json.loads(r["checks"] or "[]")}
                          for r in state.rows("SELECT ts, verdict, checks FROM health_samples WHERE deployment_id = ? ORDER BY id", [dep["id"]])]
    cost = state.rows("SELECT COUNT(*) AS calls, COALESCE(SUM(cost_usd), 0) AS usd, COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens "
                      "FROM llm_calls WHERE issue_id = ?", [issue_id])[0]
    issue["llm"] = cost
    issue["related"] = related_detail(state, issue_id)
    issue["audit"] = [{**r, "details": json.loads(r["details"])} for r in audit.timeline(state, issue_id)]
    return issue



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
    row = state.db.execute("SELECT status FROM issues WHERE id = ?", [issue_id]).fetchone()
    if row is None:
        raise ConfigError(f"no issue {issue_id} (see `agent issues`)")
    current = row[0]
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
