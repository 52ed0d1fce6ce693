"""Bounded memory: a scan holds per fingerprint counts and a few samples, never every event."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent_cli.config import load_settings
from agent_cli.detect import sources
from agent_cli.detect.miner import TemplateMiner
from agent_cli.detect.scan import SAMPLES_PER_ISSUE, Aggregator
from tests.conftest import Project

FILE_SOURCE = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
LINES = 30_000


def error(n: int) -> str:
    return f"2026-11-21 10:{n // 6000:02d}:{n // 100 % 60:02d},{n % 1000:03d} ERROR app.db: connection pool exhausted user_id=u{n % 7}\n"


@pytest.fixture
def logs(project: Project) -> Path:
    (project.root / "logs").mkdir()
    project.config.write_text(FILE_SOURCE)
    return project.root / "logs"


def test_many_identical_errors_are_held_as_one_group_of_twenty_samples(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text("".join(error(n) for n in range(LINES)))
    settings = load_settings(project.config)
    into = Aggregator(settings, miner=TemplateMiner())
    read = sources.read_file_source(settings.sources[0], settings.repo_path, {}, into=into)
    assert read.events == [] and read.lines == LINES  # nothing kept per event on the read
    (group,) = into.groups.values()
    assert group.count == into.count == LINES and len(group.samples) == SAMPLES_PER_ISSUE
    assert [e.line for e in group] == list(range(LINES - SAMPLES_PER_ISSUE + 1, LINES + 1))  # the latest, in order
    assert len(group.users) == 7 and sum(group.minutes.values()) == LINES and len(group.minutes) == 5


def test_a_scan_stores_counts_minutes_users_and_the_latest_samples(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text("".join(error(n) for n in range(LINES)))
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr
    assert r.json()["events"] == LINES
    conn = sqlite3.connect(project.state)
    (issue_id, count, users, first, last), = conn.execute("SELECT id, count, affected_users, first_seen, last_seen FROM issues")
    assert (count, users) == (LINES, 7)
    assert (first, last) == ("2026-11-21T10:00:00+00:00", f"2026-11-21T10:04:59.{(LINES - 1) % 1000:03d}000+00:00")
    assert conn.execute("SELECT SUM(count), COUNT(*) FROM issue_minutes WHERE issue_id = ?", [issue_id]).fetchone() == (LINES, 5)
    lines = [row[0] for row in conn.execute("SELECT line FROM events WHERE issue_id = ? ORDER BY id", [issue_id])]
    assert lines == list(range(LINES - SAMPLES_PER_ISSUE + 1, LINES + 1))


def test_poison_records_are_still_reported_one_by_one_among_many(project: Project, logs: Path) -> None:
    poison = "0999-11-21 10:00:00,000 ERROR app.db: connection pool exhausted\n"
    body = [error(n) for n in range(LINES)]
    for at in (10, 20_000):
        body.insert(at, poison)
    (logs / "app.log").write_text("".join(body))
    r = project.cli("--json", "scan")
    data = r.json()
    assert data["events"] == LINES
    errors = data["sources"]["app"]["errors"]
    assert [e.split(": line ")[1].split(":")[0] for e in errors] == ["11", "20001"]
    assert all("record cannot be stored" in e and "out of range" in e for e in errors)
    assert project.cli("--json", "scan").json()["events"] == 0


def test_a_forked_reader_sends_back_groups_not_events(project: Project, logs: Path) -> None:
    """Past 4 MB a buffer's half is parsed in a forked child: it must fold there too, or every event is pickled back."""
    from agent_cli.detect import parallel
    from agent_cli.detect.linking import FailureFolder

    assert parallel.can_fork(8 * 1024 * 1024), "this test needs a multi-core machine"
    settings = load_settings(project.config)
    folder = FailureFolder(Aggregator(settings, miner=TemplateMiner()), many_writers=False)
    part = folder.spawn()
    assert isinstance(part, FailureFolder) and isinstance(part.target, Aggregator) and part.target.miner is None
    lines = 60_000  # about 6 MB: one chunk, split in two
    (logs / "app.log").write_text("".join(error(n) for n in range(lines)))
    into = Aggregator(settings, miner=TemplateMiner())
    read = sources.read_file_source(settings.sources[0], settings.repo_path, {}, into=into)
    assert read.lines == lines and read.errors == []
    (group,) = into.groups.values()
    assert group.count == lines and [e.line for e in group] == list(range(lines - SAMPLES_PER_ISSUE + 1, lines + 1))
