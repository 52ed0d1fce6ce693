"""What `agent scan` keeps between runs: file cursors (`scan_cursors`) and per-source metrics and errors.

`source_metrics` counts lines and events per source per minute; `source_errors` keeps the newest reasons a
source (or a record of it) could not be read or stored. `savepoint` lets a scan step fail alone inside the
scan's one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agent_cli.state import State


@dataclass(frozen=True)
class ScanCursor:
    """Where a file source was read up to (one row of `scan_cursors`)."""

    path: str
    device: int
    inode: int
    offset: int
    line_no: int
    head_hash: str | None
    skipping: bool


def cursors(state: State, source: str) -> list[ScanCursor]:
    """The source's cursors, one per file it reads."""
    rows = state.db.execute(
        "SELECT path, device, inode, offset, line_no, head_hash, skipping FROM scan_cursors WHERE source = ?", [source]
    ).fetchall()
    return [ScanCursor(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]


def forget_cursor(state: State, source: str, path: str) -> None:
    state.db.execute("DELETE FROM scan_cursors WHERE source = ? AND path = ?", [source, path])


def save_cursor(state: State, source: str, path: str, *, device: int, inode: int, offset: int, line_no: int, head_hash: str | None,
                skipping: bool, updated_at: str) -> None:
    """Insert or replace the source's cursor for `path`."""
    state.db.execute(
        "INSERT INTO scan_cursors(source, path, device, inode, offset, line_no, head_hash, skipping, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(source, path) DO UPDATE SET device = excluded.device, "
        "inode = excluded.inode, offset = excluded.offset, line_no = excluded.line_no, head_hash = excluded.head_hash, "
        "skipping = excluded.skipping, updated_at = excluded.updated_at",
        [source, path, device, inode, offset, line_no, head_hash, int(skipping), updated_at],
    )


def add_source_minute(state: State, source: str, minute: str, lines: int, events: int) -> None:
    """Add lines and events read to the source's bucket for `minute` ("%Y-%m-%dT%H:%M")."""
    state.db.execute(
        "INSERT INTO source_metrics(source, minute, lines, events) VALUES (?, ?, ?, ?) ON CONFLICT(source, minute) "
        "DO UPDATE SET lines = lines + excluded.lines, events = events + excluded.events",
        [source, minute, lines, events],
    )


def add_source_error(state: State, ts: str, source: str, reason: str) -> None:
    state.db.execute("INSERT INTO source_errors(ts, source, reason) VALUES (?, ?, ?)", [ts, source, reason])


def trim_source_errors(state: State, kept: int) -> None:
    """Keep only the newest `kept` source errors (by id)."""
    state.db.execute("DELETE FROM source_errors WHERE id <= (SELECT MAX(id) FROM source_errors) - ?", [kept])


@contextmanager
def savepoint(state: State, name: str) -> Iterator[None]:
    """A savepoint inside the open transaction: an exception rolls back only what was written inside it (and propagates)."""
    db = state.db
    db.execute(f"SAVEPOINT {name}")
    try:
        yield
    except Exception:
        db.execute(f"ROLLBACK TO SAVEPOINT {name}")
        db.execute(f"RELEASE SAVEPOINT {name}")
        raise
    db.execute(f"RELEASE SAVEPOINT {name}")
