"""The run lock between real processes: contention exits 75, a killed holder is taken over."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import Project

HOLDER = """
import sys, time
from pathlib import Path
from agent_cli.config import load_settings
from agent_cli.runner import locked_run
with locked_run(load_settings(Path(sys.argv[1])), "test-holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def hold_lock(project: Project):
    procs: list[subprocess.Popen] = []

    def start(seconds: float) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project.config), str(seconds)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_second_run_exits_75_naming_the_holder(project: Project, hold_lock) -> None:
    holder = hold_lock(30)
    result = project.run("scan")
    assert result.exit_code == 75
    line = result.stderr.strip()
    assert line.count("\n") == 0
    assert f"pid {holder.pid}" in line and " since " in line and "test-holder" in line


def test_lock_left_by_kill_9_is_taken_over_and_audited(project: Project, hold_lock) -> None:
    holder = hold_lock(60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = project.run("scan")
    assert result.exit_code != 75, result.stderr
    conn = sqlite3.connect(project.state)
    reason = conn.execute("SELECT reason FROM audit WHERE step = 'lock' AND decision = 'takeover'").fetchone()[0]
    assert f"pid {holder.pid}" in reason
    outcome = conn.execute("SELECT outcome FROM runs WHERE command = 'test-holder'").fetchone()[0]
    assert outcome == "killed"
    # The lock is free again for the next cron run: no second takeover is recorded.
    project.run("scan")
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE step = 'lock'").fetchone()[0] == 1
    assert project.run("audit", "verify").exit_code == 0


def test_forced_rollback_waits_for_the_lock(project: Project, hold_lock) -> None:
    hold_lock(1.0)
    waited = project.run("rollback", "--force", "--lock-timeout", "30")
    assert waited.exit_code != 75  # it got the lock once the holder finished


def test_forced_rollback_gives_up_after_its_timeout_and_plain_rollback_does_not_wait(project: Project, hold_lock) -> None:
    hold_lock(30)
    assert project.run("rollback", "--force", "--lock-timeout", "0.5").exit_code == 75
    assert project.run("rollback").exit_code == 75


def test_pause_works_while_a_run_holds_the_lock(project: Project, hold_lock) -> None:
    hold_lock(30)
    # The kill switch must never queue behind the run it is meant to stop.
    assert project.run("pause", "--reason", "incident").exit_code == 0
    assert project.run("--json", "status").json()["paused"] is True
