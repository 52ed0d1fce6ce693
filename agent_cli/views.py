"""Read models for people: `agent issues` and `agent show`. Steps never load through these (agent_cli.issues.load)."""

from __future__ import annotations

import json
from typing import Any

from agent_cli import audit
from agent_cli.config import SEVERITIES
from agent_cli.errors import ConfigError
from agent_cli.issues import decoded, load
from agent_cli.state import ISSUE_STATUSES, State
from agent_cli.store import deployments as store_deployments
from agent_cli.store import issues as store_issues
from agent_cli.store import llm_calls as store_llm_calls


def list_issues(state: State, *, status: str | None = None, severity: str | None = None) -> list[dict[str, Any]]:
    if status and status not in ISSUE_STATUSES:
        raise ConfigError(f"--status must be one of {', '.join(ISSUE_STATUSES)}")
    if severity and severity.upper() not in SEVERITIES:
        raise ConfigError(f"--severity must be one of {', '.join(SEVERITIES)}")
    rows = decoded(store_issues.summaries(state, status=status or None, severity=severity.upper() if severity else None))
    links = related_of(state, [r["id"] for r in rows])
    for row in rows:
        row["related"] = links.get(row["id"], [])  # [{id, kind}]: probe_window | same_throw_site (detect.related)
    return rows


def related_of(state: State, issue_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """issue id -> its related issues [{id, kind}] (issue_links, filled by detect.related at scan)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for issue_id, related_id, kind in store_issues.links_of(state, issue_ids):
        out.setdefault(issue_id, []).append({"id": related_id, "kind": kind})
    return out


def related_detail(state: State, issue_id: int) -> list[dict[str, Any]]:
    """One issue's related issues for `agent show`: kind, when linked, and the other issue's severity, status, title."""
    return store_issues.related(state, issue_id)


def show_issue(state: State, issue_id: int) -> dict[str, Any]:
    """Everything `agent show` prints of one issue: what the steps load, plus deployments with their samples, LLM cost,
    related issues and the audit timeline."""
    issue = load(state, issue_id)
    issue["deployments"] = store_deployments.of_issue(state, issue_id)
    for dep in issue["deployments"]:
        dep["samples"] = [{"ts": r["ts"], "verdict": r["verdict"], "checks": r["checks"]} for r in store_deployments.samples(state, dep["id"])]
    issue["llm"] = store_llm_calls.spend_of_issue(state, issue_id)
    issue["related"] = related_detail(state, issue_id)
    issue["audit"] = [{**r, "details": json.loads(r["details"])} for r in audit.timeline(state, issue_id)]
    return issue
