"""The audit chain: intact, and three kinds of tampering with plain sqlite3."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import Project


@pytest.fixture
def audited(project: Project) -> Project:
    for args in (["pause", "--reason", "one"], ["resume"], ["pause", "--reason", "two"], ["resume"]):
        assert project.cli(*args).exit_code == 0
    return project  # rows 1..5: init, pause, resume, pause, resume


def _tamper(project: Project, *sql: str) -> None:
    conn = sqlite3.connect(project.state)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_intact_chain_verifies(audited: Project) -> None:
    result = audited.run("audit", "verify")
    assert result.exit_code == 0
    assert "intact: 5 records" in result.stdout


def test_triggers_refuse_update_and_delete(audited: Project) -> None:
    conn = sqlite3.connect(audited.state)
    for statement in ("UPDATE audit SET reason = 'x' WHERE id = 2", "DELETE FROM audit WHERE id = 2"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_edited_row_is_named(audited: Project) -> None:
    _tamper(audited, "UPDATE audit SET reason = 'nothing to see' WHERE id = 3")
    result = audited.run("--json", "audit", "verify")
    assert result.exit_code == 1
    assert result.json()["bad_id"] == 3
    assert "record 3" in result.stderr and "edited" in result.stderr


def test_deleted_row_is_named(audited: Project) -> None:
    _tamper(audited, "DELETE FROM audit WHERE id = 2")
    result = audited.run("audit", "verify")
    assert result.exit_code == 1
    assert "record 2" in result.stderr and "deleted" in result.stderr


def test_deleting_the_last_rows_is_caught(audited: Project) -> None:
    _tamper(audited, "DELETE FROM audit WHERE id >= 4")
    result = audited.run("audit", "verify")
    assert result.exit_code == 1 and "head records row 5" in result.stderr


def test_row_inserted_out_of_chain_is_named(audited: Project) -> None:
    # Renumber rows 4..5 to make room, then slip a forged row in as 4.
    _tamper(
        audited,
        "UPDATE audit SET id = id + 100 WHERE id >= 4",
        "UPDATE audit SET id = id - 99 WHERE id >= 100",
        "INSERT INTO audit(id, ts, run_id, issue_id, step, decision, reason, details, prev_hash, hash) "
        "VALUES (4, '2026-01-01T00:00:00+00:00', NULL, NULL, 'deploy', 'allowed', 'forged', '{}', 'x', 'y')",
    )
    result = audited.run("--json", "audit", "verify")
    assert result.exit_code == 1
    assert result.json()["bad_id"] == 4
    assert "record 4" in result.stderr


def test_work_goes_on_after_verify(audited: Project) -> None:
    # verify only reads: the chain still extends and verifies afterwards.
    assert audited.run("audit", "verify").exit_code == 0
    assert audited.run("pause").exit_code == 0
    assert audited.run("audit", "verify").stdout.strip().endswith("6 records")
