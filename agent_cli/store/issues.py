"""Issues and what a scan records about them: `issues`, `events` (the newest samples), `issue_minutes`, `issue_users`,
`fingerprint_links` (a newer fingerprint continuing an older issue) and `issue_links` (related issues, both ways).

`set_status` is called by `agent_cli.transitions.move` only: no other module writes an issue's status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from agent_cli.state import State


@dataclass(frozen=True)
class Issue:
    """One row of `issues` (JSON columns as stored: `request_paths` is a JSON list)."""

    id: int
    fingerprint: str
    fingerprint_version: int
    title: str
    exception_type: str | None
    template: str | None
    source: str | None
    severity: str
    severity_rule: str
    status: str
    status_reason: str | None
    count: int
    first_seen: str
    last_seen: str
    affected_users: int
    request_paths: str
    auto_fixable: int
    auto_fixable_reason: str | None
    regressions: int
    updated_at: str
    culprit: str | None
    rollbacks: int
    resolved_at: str | None
    watch_until: str | None
    throw_site: str | None


_ISSUE_COLUMNS = ", ".join(f.name for f in fields(Issue))


@dataclass(frozen=True)
class NewEvent:
    """A sample event to store under an issue; `frames` and `request` are written as JSON."""

    ts: str
    source: str
    path: str | None
    line: int | None
    level: str
    message: str
    exception_type: str | None
    exception_message: str | None
    frames: list[dict[str, Any]]
    request: Any
    user_id: str | None
    raw: str


# issues -------------------------------------------------------------------------------------------------


def get(state: State, issue_id: int) -> Issue | None:
    row = state.db.execute(f"SELECT {_ISSUE_COLUMNS} FROM issues WHERE id = ?", [issue_id]).fetchone()
    return None if row is None else Issue(*row)


def find_by_fingerprint(state: State, fingerprint: str) -> Issue | None:
    row = state.db.execute(f"SELECT {_ISSUE_COLUMNS} FROM issues WHERE fingerprint = ?", [fingerprint]).fetchone()
    return None if row is None else Issue(*row)


def has_fingerprint(state: State, fingerprint: str) -> bool:
    return state.db.execute("SELECT 1 FROM issues WHERE fingerprint = ?", [fingerprint]).fetchone() is not None


def id_of_fingerprint(state: State, fingerprint: str) -> int:
    """The id of the issue with this fingerprint (which must exist)."""
    return int(state.db.execute("SELECT id FROM issues WHERE fingerprint = ?", [fingerprint]).fetchone()[0])


def status(state: State, issue_id: int) -> str | None:
    """The issue's status; None when there is no such issue."""
    row = state.db.execute("SELECT status FROM issues WHERE id = ?", [issue_id]).fetchone()
    return None if row is None else str(row[0])


def row(state: State, issue_id: int) -> dict[str, Any] | None:
    """The issue's whole row as a dict (for `agent show`), JSON columns as stored."""
    found = state.rows("SELECT * FROM issues WHERE id = ?", [issue_id])
    return found[0] if found else None


def summaries(state: State, *, status: str | None = None, severity: str | None = None) -> list[dict[str, Any]]:
    """`agent issues`: one line per issue, optionally of one status and one severity, most severe and most recent first."""
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if severity:
        where.append("severity = ?")
        params.append(severity)
    sql = (
        "SELECT id, severity, status, count, affected_users, first_seen, last_seen, title, fingerprint, source, auto_fixable "
        "FROM issues" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY severity, last_seen DESC"
    )
    return state.rows(sql, params)


def message_fingerprints(state: State, versions: Sequence[int]) -> list[str]:
    """Fingerprints of the message issues (no exception type) made by these fingerprint versions."""
    marks = ", ".join("?" * len(versions))
    rows = state.db.execute(
        f"SELECT fingerprint FROM issues WHERE exception_type IS NULL AND fingerprint_version IN ({marks})", list(versions)
    ).fetchall()
    return [r[0] for r in rows]


def ids_of_sources(state: State, sources: Sequence[str]) -> list[int]:
    rows = state.db.execute("SELECT id FROM issues WHERE source IN (SELECT value FROM json_each(?))", [json.dumps(list(sources))]).fetchall()
    return [r[0] for r in rows]


def ids_with_events_at(state: State, levels: Sequence[str], *, not_sources: Sequence[str]) -> list[int]:
    """Issues not of `not_sources` with a stored event logged at one of `levels`."""
    rows = state.db.execute(
        "SELECT i.id FROM issues i WHERE COALESCE(i.source, '') NOT IN (SELECT value FROM json_each(?)) "
        "AND EXISTS (SELECT 1 FROM events e WHERE e.issue_id = i.id AND e.level IN (SELECT value FROM json_each(?)))",
        [json.dumps(list(not_sources)), json.dumps(list(levels))],
    ).fetchall()
    return [r[0] for r in rows]


def post_fix_watch(state: State, issue_id: int) -> tuple[str | None, str | None]:
    """(watch_until, sha of the issue's newest healthy production deployment); (None, None) for no such issue."""
    found = state.db.execute("SELECT watch_until, (SELECT sha FROM deployments WHERE issue_id = issues.id AND env = 'production' "
                             "AND status = 'healthy' ORDER BY id DESC LIMIT 1) FROM issues WHERE id = ?", [issue_id]).fetchone()
    return (None, None) if found is None else (found[0], found[1])


def create(state: State, *, fingerprint: str, fingerprint_version: int, title: str, exception_type: str | None, template: str | None,
           source: str | None, severity: str, severity_rule: str, count: int, first_seen: str, last_seen: str, request_paths: list[str],
           auto_fixable: bool, auto_fixable_reason: str | None, culprit: str | None, updated_at: str) -> int:
    """A new issue, `detected`; returns its id."""
    cur = state.db.execute(
        "INSERT INTO issues(fingerprint, fingerprint_version, title, exception_type, template, source, severity, severity_rule, "
        "status, count, first_seen, last_seen, request_paths, auto_fixable, auto_fixable_reason, culprit, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'detected', ?, ?, ?, ?, ?, ?, ?, ?)",
        [fingerprint, fingerprint_version, title, exception_type, template, source, severity, severity_rule, count, first_seen, last_seen,
         json.dumps(request_paths), int(auto_fixable), auto_fixable_reason, culprit, updated_at],
    )
    return int(cur.lastrowid or 0)


def add_occurrences(state: State, issue_id: int, count: int, *, first_seen: str, last_seen: str, request_paths: list[str], updated_at: str) -> None:
    """Count `count` more events; widen first/last seen to include these; replace request_paths."""
    state.db.execute(
        "UPDATE issues SET count = count + ?, first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?), "
        "request_paths = ?, updated_at = ? WHERE id = ?",
        [count, first_seen, last_seen, json.dumps(request_paths), updated_at, issue_id],
    )


def add_regression(state: State, issue_id: int) -> int:
    """Count one more regression; returns the issue's regressions now."""
    state.db.execute("UPDATE issues SET regressions = regressions + 1 WHERE id = ?", [issue_id])
    return int(state.db.execute("SELECT regressions FROM issues WHERE id = ?", [issue_id]).fetchone()[0])


def set_severity_and_users(state: State, issue_id: int, severity: str, severity_rule: str, affected_users: int) -> None:
    """A scan's verdict on the issue (does not touch updated_at)."""
    state.db.execute("UPDATE issues SET severity = ?, severity_rule = ?, affected_users = ? WHERE id = ?",
                     [severity, severity_rule, affected_users, issue_id])


def set_severity(state: State, issue_id: int, severity: str, severity_rule: str, updated_at: str) -> None:
    state.db.execute("UPDATE issues SET severity = ?, severity_rule = ?, updated_at = ? WHERE id = ?", [severity, severity_rule, updated_at, issue_id])


def set_status(state: State, issue_id: int, status: str, reason: str, updated_at: str) -> None:
    """Write the issue's status: called by `transitions.move` alone (it checks the move and audits it)."""
    state.db.execute("UPDATE issues SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?", [status, reason, updated_at, issue_id])


def ids_without_throw_site(state: State) -> set[int]:
    return {r[0] for r in state.db.execute("SELECT id FROM issues WHERE throw_site IS NULL").fetchall()}


def set_throw_site(state: State, issue_id: int, site: str) -> None:
    """Record the issue's throw site (a no-op write when it is already that)."""
    state.db.execute("UPDATE issues SET throw_site = ? WHERE id = ? AND throw_site IS NOT ?", [site, issue_id, site])


def same_throw_site(state: State, issue_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(issue, other issue) for each of `issue_ids` with a non-empty throw site and every other issue thrown there."""
    rows = state.db.execute(
        "SELECT a.id, b.id FROM issues a JOIN issues b ON b.throw_site = a.throw_site AND b.id != a.id "
        "WHERE a.id IN (SELECT value FROM json_each(?)) AND a.throw_site != '' ORDER BY a.id, b.id",
        [json.dumps(list(issue_ids))],
    ).fetchall()
    return [(a, b) for a, b in rows]


# events, minutes, users ----------------------------------------------------------------------------------


def add_events(state: State, issue_id: int, events: Iterable[NewEvent]) -> None:
    for e in events:
        state.db.execute(
            "INSERT INTO events(issue_id, ts, source, path, line, level, message, exception_type, exception_message, frames, request, user_id, raw) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [issue_id, e.ts, e.source, e.path, e.line, e.level, e.message, e.exception_type, e.exception_message, json.dumps(e.frames),
             json.dumps(e.request), e.user_id, e.raw],
        )


def keep_newest_events(state: State, issue_id: int, kept: int) -> None:
    """Delete all but the issue's newest `kept` events."""
    state.db.execute(
        "DELETE FROM events WHERE issue_id = ? AND id NOT IN (SELECT id FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT ?)",
        [issue_id, issue_id, kept],
    )


def events(state: State, issue_id: int) -> list[dict[str, Any]]:
    """The issue's stored events, newest first, whole rows (JSON columns as stored)."""
    return state.rows("SELECT * FROM events WHERE issue_id = ? ORDER BY id DESC", [issue_id])


def newest_frames(state: State, issue_id: int, limit: int) -> list[str | None]:
    """The `frames` JSON of the issue's newest `limit` events, newest first."""
    return [frames for (frames,) in state.db.execute("SELECT frames FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT ?", [issue_id, limit]).fetchall()]


def add_minutes(state: State, issue_id: int, minutes: dict[str, int]) -> None:
    """Add to the issue's per-minute counts (minute "%Y-%m-%dT%H:%M" -> events)."""
    for minute, n in minutes.items():
        state.db.execute(
            "INSERT INTO issue_minutes(issue_id, minute, count) VALUES (?, ?, ?) ON CONFLICT(issue_id, minute) DO UPDATE SET count = count + excluded.count",
            [issue_id, minute, n],
        )


def minutes_total(state: State, issue_id: int, first: str, last: str) -> int:
    """The issue's events in the minutes first..last (inclusive)."""
    return int(state.db.execute(
        "SELECT COALESCE(SUM(count), 0) FROM issue_minutes WHERE issue_id = ? AND minute BETWEEN ? AND ?", [issue_id, first, last]
    ).fetchone()[0])


def _window_join(window_min: int, extra: str) -> str:
    return (
        "SELECT p.issue_id, e.issue_id, MIN(p.minute), MAX(p.minute) FROM issue_minutes p JOIN issue_minutes e "
        f"ON e.minute BETWEEN strftime('%Y-%m-%dT%H:%M', p.minute, '-{int(window_min)} minutes') "
        f"AND strftime('%Y-%m-%dT%H:%M', p.minute, '+{int(window_min)} minutes') "
        "WHERE p.issue_id IN (SELECT value FROM json_each(:probes)) AND e.issue_id IN (SELECT value FROM json_each(:errors)) "
        f"{extra} GROUP BY p.issue_id, e.issue_id ORDER BY p.issue_id, e.issue_id"
    )


def minutes_near(state: State, probes: Sequence[int], errors: Sequence[int], window_min: int, *,
                 touching: Sequence[int] | None = None) -> list[tuple[int, int, str, str]]:
    """(probe issue, error issue, first and last probe minute) for each pair with an error minute within `window_min`
    minutes of a probe minute; with `touching`, only pairs with one side among those issues."""
    params: dict[str, Any] = {"probes": json.dumps(list(probes)), "errors": json.dumps(list(errors))}
    extra = ""
    if touching is not None:
        extra = "AND (p.issue_id IN (SELECT value FROM json_each(:touched)) OR e.issue_id IN (SELECT value FROM json_each(:touched)))"
        params["touched"] = json.dumps(list(touching))
    rows = state.db.execute(_window_join(window_min, extra), params).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def add_users(state: State, issue_id: int, users: Iterable[str]) -> None:
    for user in users:
        state.db.execute("INSERT OR IGNORE INTO issue_users(issue_id, user_id) VALUES (?, ?)", [issue_id, user])


def user_count(state: State, issue_id: int) -> int:
    return int(state.db.execute("SELECT COUNT(*) FROM issue_users WHERE issue_id = ?", [issue_id]).fetchone()[0])


# fingerprint links -----------------------------------------------------------------------------------------


def fingerprint_links(state: State) -> dict[str, str]:
    """Newer fingerprint -> the fingerprint of the older issue it continues."""
    return dict(state.db.execute("SELECT l.fingerprint, i.fingerprint FROM fingerprint_links l JOIN issues i ON i.id = l.issue_id").fetchall())


def add_fingerprint_link(state: State, fingerprint: str, issue_id: int, version: int, old_fingerprint: str, created_at: str) -> None:
    state.db.execute("INSERT INTO fingerprint_links(fingerprint, issue_id, version, old_fingerprint, created_at) VALUES (?, ?, ?, ?, ?)",
                     [fingerprint, issue_id, version, old_fingerprint, created_at])


# related issues (issue_links) ---------------------------------------------------------------------------------


def add_link(state: State, a: int, b: int, kind: str, created_at: str) -> bool:
    """Link a and b both ways; True when either direction is new."""
    cur = state.db.execute("INSERT OR IGNORE INTO issue_links(issue_id, related_id, kind, created_at) VALUES (?, ?, ?, ?)", [a, b, kind, created_at])
    added = cur.rowcount > 0
    cur = state.db.execute("INSERT OR IGNORE INTO issue_links(issue_id, related_id, kind, created_at) VALUES (?, ?, ?, ?)", [b, a, kind, created_at])
    return added or cur.rowcount > 0


def links_of(state: State, issue_ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """(issue, related issue, kind) for these issues, by issue, kind and related issue."""
    rows = state.db.execute(
        "SELECT issue_id, related_id, kind FROM issue_links WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY issue_id, kind, related_id",
        [json.dumps(list(issue_ids))],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def related(state: State, issue_id: int) -> list[dict[str, Any]]:
    """The issue's related issues: id, kind, created_at, and the other issue's severity, status, title, throw_site."""
    return state.rows(
        "SELECT l.related_id AS id, l.kind, l.created_at, i.severity, i.status, i.title, i.throw_site FROM issue_links l "
        "JOIN issues i ON i.id = l.related_id WHERE l.issue_id = ? ORDER BY l.kind, l.related_id",
        [issue_id],
    )


def probe_window_links(state: State, probes: Sequence[int], touching: Sequence[int]) -> list[tuple[int, int, str, str]]:
    """(error issue, probe issue, the error issue's severity and rule) for probe_window links from `probes`, neither side
    ignored, one side among `touching`; by error issue, then probe issue."""
    rows = state.db.execute(
        "SELECT l.related_id, l.issue_id, e.severity, e.severity_rule FROM issue_links l "
        "JOIN issues p ON p.id = l.issue_id JOIN issues e ON e.id = l.related_id "
        "WHERE l.kind = 'probe_window' AND l.issue_id IN (SELECT value FROM json_each(:probes)) "
        "AND p.status != 'ignored' AND e.status != 'ignored' "
        "AND (l.issue_id IN (SELECT value FROM json_each(:touched)) OR l.related_id IN (SELECT value FROM json_each(:touched))) "
        "ORDER BY l.related_id, l.issue_id",
        {"probes": json.dumps(list(probes)), "touched": json.dumps(list(touching))},
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
