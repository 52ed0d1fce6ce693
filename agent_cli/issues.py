"""Reading issues for `agent issues` and `agent show`."""

from __future__ import annotations

import json
from typing import Any

from agent_cli import audit
from agent_cli.config import SEVERITIES
from agent_cli.errors import ConfigError
from agent_cli.state import ISSUE_STATUSES, State

_JSON_COLUMNS = {"request_paths", "frames", "request", "affected_files", "adjustments", "culprit", "suspect_commit", "files",
                 "validation", "details", "context", "approval_reasons"}


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
    return _rows(state, sql, params)


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
    issue["audit"] = [{**r, "details": json.loads(r["details"])} for r in audit.timeline(state, issue_id)]
    return issue
