"""Diagnoses (`diagnoses`): what a provider said caused an issue, with the confidence after adjustment.

`insert` takes the answer's lists and dicts and stores them as JSON; reads return dict rows as stored
(JSON columns not decoded: `agent show` decodes them).
"""

from __future__ import annotations

import json
from typing import Any

from agent_cli.state import State


def insert(state: State, *, issue_id: int, provider: str, provider_note: str | None, model: str | None, root_cause: str,
           affected_files: list[str], fix_strategy: str, provider_confidence: float, confidence: float, adjustments: list[Any],
           requires_human_approval: bool, estimated_fix_minutes: int | None, culprit: dict[str, Any], suspect_commit: dict[str, Any],
           cost_usd: float, context: dict[str, Any], created_at: str) -> int:
    """Record a diagnosis made at `created_at`; returns its id."""
    with state.transaction() as db:
        cur = db.execute(
            "INSERT INTO diagnoses(issue_id, created_at, provider, provider_note, model, root_cause, affected_files, fix_strategy, "
            "provider_confidence, confidence, adjustments, requires_human_approval, estimated_fix_minutes, culprit, suspect_commit, cost_usd, "
            "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [issue_id, created_at, provider, provider_note, model, root_cause, json.dumps(affected_files), fix_strategy,
             provider_confidence, confidence, json.dumps(adjustments), int(requires_human_approval), estimated_fix_minutes,
             json.dumps(culprit), json.dumps(suspect_commit), cost_usd, json.dumps(context)],
        )
    assert cur.lastrowid is not None
    return cur.lastrowid


def latest(state: State, issue_id: int) -> dict[str, Any] | None:
    """The issue's newest diagnosis as stored, or None."""
    rows = state.rows("SELECT * FROM diagnoses WHERE issue_id = ? ORDER BY id DESC LIMIT 1", [issue_id])
    return rows[0] if rows else None


def of_issue(state: State, issue_id: int) -> list[dict[str, Any]]:
    """Every diagnosis of the issue, oldest first, as stored."""
    return state.rows("SELECT * FROM diagnoses WHERE issue_id = ? ORDER BY id", [issue_id])


def family_fixed(state: State, issue_id: int, exception_type: str, culprit_path: str | None) -> int:
    """Other issues of the same family (exception type, and culprit file if known) resolved without a rollback."""
    return state.count(
        "SELECT COUNT(*) FROM issues i WHERE i.id != ? AND i.exception_type = ? AND i.status = 'resolved' "
        "AND (? IS NULL OR i.culprit LIKE ? || ':%' OR i.culprit = ?) "
        "AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.issue_id = i.id AND d.status = 'rolled_back')",
        [issue_id, exception_type, culprit_path, culprit_path, culprit_path],
    )
