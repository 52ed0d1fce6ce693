"""State-file migrations: applied in number order, and old files upgrade cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

import agent_cli.state as state_module
from agent_cli import audit
from agent_cli.state import MIGRATIONS, State

# The order the migrations were declared in (and so applied to fresh files) before they were put in number order.
OLD_ORDER = [
    "m001_initial",
    "m002_scan_metrics",
    "m003_diagnosis_context",
    "m004_fix_runs",
    "m005_fix_evidence",
    "m006_release",
    "m007_template_miner",
    "m010_approvals",
    "m009_notifications",
    "m008_issue_links",
]


def _number(name: str) -> int:
    match = re.fullmatch(r"m(\d{3})_\w+", name)
    assert match, f"migration {name!r} is not named mNNN_..."
    return int(match.group(1))


def _registered() -> list[str]:
    return [m.name for m in MIGRATIONS._migrations]


def _applied(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'agent_cli' ORDER BY rowid")]


def _apply_only(path: Path, names: list[str]) -> None:
    """A state file as an older release left it: exactly `names` applied, in that order, recorded as sqlite-utils does."""
    partial = Migrations(MIGRATIONS.name)
    for name in names:
        partial(name=name)(getattr(state_module, name))
    db = sqlite_utils.Database(path)
    partial.apply(db)
    assert _applied(db) == names
    db.close()


def _columns(db: sqlite_utils.Database, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _insert_m001_rows(state: State) -> None:
    """An issue with an event, a diagnosis, an LLM call and audit records, on the m001 schema."""
    ts = "2024-05-01T10:00:00.000000+00:00"
    with state.transaction() as db:
        db.execute(
            "INSERT INTO issues(id, fingerprint, fingerprint_version, title, exception_type, source, severity, severity_rule,"
            " status, count, first_seen, last_seen, affected_users, request_paths, updated_at)"
            " VALUES (1, 'fp-1', 1, 'AttributeError in get_user', 'AttributeError', 'app', 'P2', 'default',"
            " 'diagnosed', 3, ?, ?, 1, '[\"/users/1\"]', ?)",
            [ts, ts, ts],
        )
        db.execute(
            "INSERT INTO events(id, issue_id, ts, source, path, line, level, message, exception_type, frames, user_id, raw)"
            " VALUES (1, 1, ?, 'app', 'logs/app.log', 12, 'ERROR', 'boom', 'AttributeError',"
            " '[{\"file\": \"app/users.py\", \"line\": 7}]', 'u1', 'ERROR boom')",
            [ts],
        )
        db.execute(
            "INSERT INTO diagnoses(id, issue_id, created_at, provider, root_cause, affected_files, fix_strategy,"
            " provider_confidence, confidence, cost_usd)"
            " VALUES (1, 1, ?, 'anthropic', 'user can be None', '[\"app/users.py\"]', 'guard None', 0.9, 0.8, 0.01)",
            [ts],
        )
        db.execute(
            "INSERT INTO llm_calls(id, ts, issue_id, step, model, input_tokens, output_tokens, cost_usd, latency_ms, outcome)"
            " VALUES (1, ?, 1, 'diagnose', 'claude-x', 1200, 300, 0.01, 850.0, 'ok')",
            [ts],
        )
        db.execute(
            "INSERT INTO approvals(id, issue_id, action, status, reason, requested_at) VALUES (1, 1, 'fix', 'pending', 'P1', ?)",
            [ts],
        )
    audit.record(state, step="detect", decision="new_issue", reason="first seen", issue_id=1, details={"count": 3})
    audit.record(state, step="diagnose", decision="diagnosed", reason="confidence 0.8", issue_id=1)


def test_fresh_file_applies_migrations_in_number_order(tmp_path: Path) -> None:
    with State.open(tmp_path / "state.db") as state:
        applied = _applied(state.db)
    assert applied == _registered()
    assert [_number(name) for name in applied] == sorted(_number(name) for name in applied)


def test_migrations_are_declared_in_strictly_increasing_number_order() -> None:
    numbers = [_number(name) for name in _registered()]
    assert numbers, "no migrations registered"
    assert all(a < b for a, b in zip(numbers, numbers[1:], strict=False)), f"migrations out of number order: {_registered()}"


def test_upgrade_from_first_release_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _apply_only(path, ["m001_initial"])
    old = State(sqlite_utils.Database(path), path)  # the m001 schema as shipped, not migrated
    _insert_m001_rows(old)
    old.close()

    with State.open(path) as state:
        assert _applied(state.db) == _registered()
        assert not MIGRATIONS.pending(state.db)

        issue = state.rows("SELECT * FROM issues WHERE id = 1")[0]
        assert issue["title"] == "AttributeError in get_user"
        assert issue["count"] == 3
        assert issue["culprit"] is None  # m002
        assert issue["rollbacks"] == 0  # m006
        assert issue["throw_site"] is None  # m008

        event = state.rows("SELECT * FROM events WHERE id = 1")[0]
        assert event["message"] == "boom"
        assert event["exception_message"] is None  # m003

        diagnosis = state.rows("SELECT * FROM diagnoses WHERE id = 1")[0]
        assert diagnosis["root_cause"] == "user can be None"
        assert diagnosis["context"] == "{}"  # m003
        assert diagnosis["provider_note"] is None  # m011

        call = state.rows("SELECT * FROM llm_calls WHERE id = 1")[0]
        assert (call["input_tokens"], call["output_tokens"]) == (1200, 300)
        assert call["thinking_tokens"] == 0  # m011

        approval = state.rows("SELECT * FROM approvals WHERE id = 1")[0]
        assert approval["action"] == "fix"
        assert approval["gate"] is None and approval["details"] == "{}" and approval["consumed_at"] is None  # m010

        for table in ("issue_minutes", "template_clusters", "fingerprint_links", "issue_links", "notifications"):
            assert state.db[table].exists(), table

        assert state.count("SELECT COUNT(*) FROM audit") == 2
        result = audit.verify(state)
        assert result.ok, result.as_dict()
        assert result.checked == 2
        # The upgraded file keeps working: a new record chains onto the old ones.
        audit.record(state, step="fix", decision="skipped", reason="after upgrade", issue_id=1)
        assert audit.verify(state).ok


def test_upgrade_from_file_migrated_in_old_declaration_order(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _apply_only(path, OLD_ORDER)
    old = State(sqlite_utils.Database(path), path)
    _insert_m001_rows(old)
    ts = "2024-05-02T10:00:00.000000+00:00"
    with old.transaction() as db:
        db.execute("UPDATE approvals SET gate = 'fix', details = '{\"confidence\": 0.8}' WHERE id = 1")
        db.execute(
            "INSERT INTO notifications(ts, updated_at, event, issue_id, dedupe_key, title, ok) VALUES (?, ?, 'new_issue', 1, 'new:1', 'New', 1)",
            [ts, ts],
        )
        db.execute(
            "INSERT INTO issues(id, fingerprint, fingerprint_version, title, severity, severity_rule, first_seen, last_seen, updated_at, throw_site)"
            " VALUES (2, 'fp-2', 2, 'KeyError', 'P3', 'default', ?, ?, ?, 'app/users.py in get_user')",
            [ts, ts, ts],
        )
        db.execute("INSERT INTO issue_links(issue_id, related_id, kind, created_at) VALUES (1, 2, 'same_throw_site', ?)", [ts])
    old.close()

    later = [name for name in _registered() if name not in OLD_ORDER]  # m011 and every one appended since
    db = sqlite_utils.Database(path)
    assert [m.name for m in MIGRATIONS.pending(db)] == later
    db.close()

    with State.open(path) as state:
        applied = _applied(state.db)
        assert applied == [*OLD_ORDER, *later]  # nothing re-run, nothing skipped
        assert len(applied) == len(set(applied))
        assert sorted(applied) == sorted(_registered())
        assert state.migrate() == []

        approval = state.rows("SELECT gate, details FROM approvals WHERE id = 1")[0]
        assert approval == {"gate": "fix", "details": '{"confidence": 0.8}'}
        assert state.count("SELECT COUNT(*) FROM notifications WHERE dedupe_key = 'new:1'") == 1
        assert state.count("SELECT COUNT(*) FROM issue_links") == 1
        assert state.rows("SELECT throw_site FROM issues WHERE id = 2")[0]["throw_site"] == "app/users.py in get_user"
        call = state.rows("SELECT thinking_tokens FROM llm_calls WHERE id = 1")[0]
        assert call["thinking_tokens"] == 0
        assert "provider_note" in _columns(state.db, "diagnoses")
        assert state.get_setting(audit.HEAD_KEY)["id"] == 2
        assert audit.verify(state).ok
