"""Runs (`runs`): one row per mutating invocation, opened under the run lock and closed with its outcome.

Rows are dicts (`agent status` prints them as JSON).

`agent_cli.state.State.last_run` calls into this module, so it does not import `agent_cli.state`
(that would be an import circle): a state is anything with the `StateLike` shape, and writes take
their timestamp from the caller (`agent_cli.state.utcnow()`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlite_utils


class StateLike(Protocol):
    """What these functions use of `agent_cli.state.State`."""

    db: sqlite_utils.Database

    def transaction(self) -> AbstractContextManager[sqlite_utils.Database]: ...

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


def start(state: StateLike, run_id: str, command: str, pid: int, host: str, *, started_at: str) -> None:
    with state.transaction():
        state.db.execute(
            "INSERT INTO runs(id, command, started_at, pid, host) VALUES (?, ?, ?, ?, ?)",
            [run_id, command, started_at, pid, host],
        )


def finish(state: StateLike, run_id: str, outcome: str, exit_code: int, *, finished_at: str) -> None:
    with state.transaction():
        state.db.execute(
            "UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ? WHERE id = ?",
            [finished_at, outcome, exit_code, run_id],
        )


def close_killed(state: StateLike, *, except_run_id: str, finished_at: str) -> None:
    """Every run still open but `except_run_id` died (its holder was killed): closed as `killed`, exit -9."""
    with state.transaction():
        state.db.execute(
            "UPDATE runs SET finished_at = ?, outcome = 'killed', exit_code = -9 WHERE finished_at IS NULL AND id != ?",
            [finished_at, except_run_id],
        )


def last(state: StateLike) -> dict[str, Any] | None:
    """The run started most recently, finished or not."""
    found = state.rows("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")
    return found[0] if found else None

