"""Key/value settings (`settings`): the kill switch, the LLM outage, the audit head, the sandbox probe.

A value is stored as JSON; a key never set reads as the caller's default.

`agent_cli.state.State.get_setting` / `set_setting` call into this module, so it does not import
`agent_cli.state` (that would be an import circle): a state is anything with the `StateLike` shape,
and `put` takes its timestamp from the caller (`agent_cli.state.utcnow()`).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlite_utils


class StateLike(Protocol):
    """What these functions use of `agent_cli.state.State`."""

    db: sqlite_utils.Database

    def transaction(self) -> AbstractContextManager[sqlite_utils.Database]: ...


def get(state: StateLike, key: str, default: Any = None) -> Any:
    """The setting's value, or `default` when it was never set."""
    row = state.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return default if row is None else json.loads(row[0])


def put(state: StateLike, key: str, value: Any, *, updated_at: str) -> None:
    """Set (or replace) the setting's value."""
    with state.transaction():
        state.db.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [key, json.dumps(value), updated_at],
        )
