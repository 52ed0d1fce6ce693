"""Sent notifications: one row per dedupe key, holding each channel's last result (never a channel's URL)."""

from __future__ import annotations

import json
from typing import Any

from agent_cli.state import State


def results(state: State, dedupe_key: str) -> list[dict[str, Any]]:
    """The per-channel results stored under `dedupe_key` ([] if nothing was sent under it)."""
    found = state.rows("SELECT results FROM notifications WHERE dedupe_key = ?", [dedupe_key])
    return list(json.loads(found[0]["results"])) if found else []


def save(state: State, *, at: str, run_id: str | None, event: str, issue_id: Any, dedupe_key: str, title: str,
         results: list[dict[str, Any]], ok: bool, error: str | None) -> None:
    """The row for `dedupe_key`, made or brought up to date (its results, outcome, run and time)."""
    with state.transaction() as db:
        db.execute(
            "INSERT INTO notifications(ts, updated_at, run_id, event, issue_id, dedupe_key, title, results, ok, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(dedupe_key) DO UPDATE SET updated_at = excluded.updated_at, run_id = excluded.run_id, "
            "results = excluded.results, ok = excluded.ok, error = excluded.error",
            [at, at, run_id, event, issue_id, dedupe_key, title, json.dumps(results), int(ok), error],
        )
