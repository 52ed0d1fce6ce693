"""The idle cycle's shortcut: a scan is skipped only when no file source has anything it has not read."""

from __future__ import annotations

import os

from agent_cli.config import load_settings
from agent_cli.detect.unchanged import nothing_new
from agent_cli.state import State
from tests.conftest import Project

ERROR = "2026-12-01 10:00:0{n},000 ERROR app: request failed\nTraceback (most recent call last):\n" \
        '  File "/app/app.py", line 2, in handler\n    return x\nKeyError: \'k{n}\'\n'


def idle(project: Project) -> bool:
    with State.open(project.state) as state:
        return nothing_new(load_settings(project.config), state)


def test_only_a_fully_read_unmoved_file_counts_as_nothing_new(project: Project) -> None:
    logs = project.root / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text(ERROR.format(n=1))
    assert not idle(project)  # never read
    assert project.cli("scan").exit_code == 0
    assert idle(project)
    with log.open("a") as f:
        f.write(ERROR.format(n=2))
    assert not idle(project)  # grew
    assert project.cli("scan").exit_code == 0 and idle(project)
    with log.open("a") as f:
        f.write("2026-12-01 10:00:09,000 ERROR app: half a line")
    assert not idle(project)  # a line still being written is held back: the offset stays short of the size
    size = log.stat().st_size
    log.write_text("x" * size)  # replaced in place with the same length
    assert not idle(project)
    (logs / "other.log").write_text("")
    assert not idle(project)  # a new file matches the glob


def test_a_probe_or_command_source_is_read_every_time(project: Project) -> None:
    project.config.write_text('[[sources]]\nname = "health"\nkind = "http"\nurl = "http://127.0.0.1:9/health"\n')
    assert not idle(project)


def test_agent_run_finds_an_error_written_between_idle_cycles(project: Project) -> None:
    logs = project.root / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("2026-12-01 10:00:00,000 INFO app: started\n")
    assert project.cli("run").exit_code == 0
    quiet = project.cli("--json", "run").json()
    assert [a for a in quiet["actions"] if a["step"] == "scan"][0]["unchanged"] is True
    with (logs / "app.log").open("a") as f:
        f.write(ERROR.format(n=3))
    os.utime(logs / "app.log")
    busy = project.cli("--json", "run").json()
    scan = [a for a in busy["actions"] if a["step"] == "scan"][0]
    assert scan["new_issues"] == 1 and "unchanged" not in scan


def test_a_file_rotated_away_is_not_unchanged(project: Project) -> None:
    logs = project.root / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("2026-12-01 10:00:00,000 INFO app: started\n")
    assert project.cli("scan").exit_code == 0 and idle(project)
    (logs / "app.log").unlink()
    assert not idle(project)  # gone (rotated away): the scan's rotation logic decides
