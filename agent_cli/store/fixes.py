"""Fix attempts (`fixes`) and the validation baselines they are compared with (`validation_baselines`).

An attempt's row is created `building` before anything runs, so a run after a kill -9 finds what it left
(`building`); its outcome is written by `record_outcome`. Reads for views return dict rows as stored (JSON
columns not decoded: `agent show` decodes them); `building` returns typed records.

`agent_cli.state.State.fixes_committed_last_hour` calls into this module, so it does not import
`agent_cli.state` (that would be an import circle): a state is anything with the `StateLike` shape,
and writes take their timestamp from the caller (`agent_cli.state.utcnow()`).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import sqlite_utils

from agent_cli import clock


class StateLike(Protocol):
    """What these functions use of `agent_cli.state.State`."""

    db: sqlite_utils.Database

    def transaction(self) -> AbstractContextManager[sqlite_utils.Database]: ...

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def count(self, sql: str, params: list[Any] | None = None) -> int: ...


@dataclass(frozen=True)
class BuildingFix:
    """An attempt still marked `building`: what a killed run left to clean up."""

    id: int
    issue_id: int
    branch: str | None
    worktree: str | None
    validation_pgid: int | None
    attempt: int


# ---- reads -----------------------------------------------------------------------------------------


def committed(state: StateLike, issue_id: int) -> dict[str, Any] | None:
    """The issue's current committed fix, if any (a replaced one is `superseded`): id, branch, sha, base_sha, files (JSON text)."""
    rows = state.rows("SELECT id, branch, sha, base_sha, files FROM fixes WHERE issue_id = ? AND status = 'committed' ORDER BY id DESC LIMIT 1",
                      [issue_id])
    return rows[0] if rows else None


def of_issue(state: StateLike, issue_id: int) -> list[dict[str, Any]]:
    """Every attempt for the issue, oldest first, as stored (JSON columns as text)."""
    return state.rows("SELECT * FROM fixes WHERE issue_id = ? ORDER BY id", [issue_id])


def next_attempt_number(state: StateLike, issue_id: int) -> int:
    """The number the issue's next attempt gets (1 for the first)."""
    return state.count("SELECT COALESCE(MAX(attempt), 0) FROM fixes WHERE issue_id = ?", [issue_id]) + 1


def building(state: StateLike) -> list[BuildingFix]:
    """Attempts left `building` (by a run that was killed, or one still running)."""
    rows = state.db.execute("SELECT id, issue_id, branch, worktree, validation_pgid, attempt FROM fixes WHERE status = 'building'").fetchall()
    return [BuildingFix(*row) for row in rows]


def committed_last_hour(state: StateLike) -> int:
    """What `policy.max_fixes_per_hour` limits (and `agent status` shows)."""
    since = (clock.current().now() - timedelta(hours=1)).isoformat()
    return state.count("SELECT COUNT(*) FROM fixes WHERE status = 'committed' AND created_at >= ?", [since])


# ---- writes ----------------------------------------------------------------------------------------


def create_building(state: StateLike, *, issue_id: int, attempt: int, strategy: str, branch: str | None, base_sha: str, worktree: str,
                    run_id: str, created_at: str) -> int:
    """A new attempt's row, `building` until its outcome is recorded; returns its id."""
    with state.transaction() as db:
        fix_id = db.execute(
            "INSERT INTO fixes(issue_id, attempt, created_at, strategy, status, branch, base_sha, worktree, run_id) "
            "VALUES (?, ?, ?, ?, 'building', ?, ?, ?, ?)",
            [issue_id, attempt, created_at, strategy, branch, base_sha, worktree, run_id],
        ).lastrowid
    assert fix_id is not None
    return fix_id


def set_validation_pgid(state: StateLike, fix_id: int, pgid: int) -> None:
    """The process group validating the attempt, so a run after a kill -9 can stop it."""
    with state.transaction() as db:
        db.execute("UPDATE fixes SET validation_pgid = ? WHERE id = ?", [pgid, fix_id])


def record_outcome(state: StateLike, fix_id: int, *, status: str, summary: str, diff: str, files: list[str], validation: list[dict[str, Any]],
                   confidence: float | None, reason: str | None, approval_reasons: list[str], sha: str | None, evidence: str | None,
                   evidence_detail: dict[str, Any]) -> None:
    """What the attempt came to (its row leaves `building`; the validation process is forgotten)."""
    with state.transaction() as db:
        db.execute(
            "UPDATE fixes SET status = ?, summary = ?, diff = ?, files = ?, validation = ?, confidence = ?, reason = ?, "
            "approval_reasons = ?, sha = ?, validation_pgid = NULL, evidence = ?, evidence_detail = ? WHERE id = ?",
            [status, summary, diff, json.dumps(files), json.dumps(validation), confidence, reason, json.dumps(approval_reasons), sha,
             evidence, json.dumps(evidence_detail), fix_id],
        )


def supersede(state: StateLike, fix_id: int, reason: str) -> None:
    """A committed fix replaced by a newer one."""
    with state.transaction() as db:
        db.execute("UPDATE fixes SET status = 'superseded', reason = ? WHERE id = ?", [reason, fix_id])


def abandon_interrupted(state: StateLike, fix_id: int) -> None:
    """An attempt a killed run left `building`, cleaned up."""
    with state.transaction() as db:
        db.execute("UPDATE fixes SET status = 'abandoned', reason = 'left by an interrupted run; cleaned up' WHERE id = ?", [fix_id])


def delete(state: StateLike, fix_id: int) -> None:
    """Forget an attempt (a dry run's: dry runs keep no rows)."""
    with state.transaction() as db:
        db.execute("DELETE FROM fixes WHERE id = ?", [fix_id])


# ---- validation baselines --------------------------------------------------------------------------


def baseline(state: StateLike, base_sha: str, commands_hash: str) -> dict[str, Any] | None:
    """A command's cached result on the unmodified base (`CommandResult.as_dict()`), or None."""
    row = state.db.execute("SELECT results FROM validation_baselines WHERE base_sha = ? AND commands_hash = ?", [base_sha, commands_hash]).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def save_baseline(state: StateLike, base_sha: str, commands_hash: str, results: dict[str, Any], *, created_at: str) -> None:
    with state.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO validation_baselines(base_sha, commands_hash, results, created_at) VALUES (?, ?, ?, ?)",
            [base_sha, commands_hash, json.dumps(results), created_at],
        )
