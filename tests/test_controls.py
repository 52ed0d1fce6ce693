"""pause / resume / status, as cron and a person see them."""

from __future__ import annotations

import re

from tests.conftest import Project


def test_pause_resume_status_json(project: Project) -> None:
    status = project.cli("--json", "status").json()
    assert status["paused"] is False and status["last_run"] is None
    assert set(status["issues"]) >= {"detected", "diagnosed", "fix_ready", "resolved", "needs_human"}
    assert set(status["limits"]) == {"deploys_today", "fixes_last_hour", "llm_cost_today_usd"}

    paused = project.cli("--json", "pause", "--reason", "deploy freeze")
    assert paused.exit_code == 0 and paused.json()["changed"] is True
    again = project.cli("--json", "pause", "--reason", "other")
    assert again.json()["changed"] is False and again.json()["reason"] == "deploy freeze"

    status = project.cli("--json", "status").json()
    assert status["paused"] is True and status["paused_reason"] == "deploy freeze" and status["paused_since"]

    resumed = project.cli("--json", "resume")
    assert resumed.exit_code == 0 and resumed.json()["changed"] is True
    assert project.cli("--json", "status").json()["paused"] is False

    # Each change of the kill switch is audited, and the chain holds.
    verify = project.cli("--json", "audit", "verify").json()
    assert verify["ok"] is True and verify["checked"] == 3  # init, pause, resume


def test_status_is_plain_text_when_piped(project: Project) -> None:
    project.cli("pause", "--reason", "maintenance")
    result = project.cli("status")
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout  # no ANSI escapes in cron mail
    assert re.search(r"^paused\s+yes, since .*: maintenance$", result.stdout, re.M)
    assert re.search(r"^level\s+1$", result.stdout, re.M)


def test_quiet_prints_nothing_and_json_prints_one_object(project: Project) -> None:
    assert project.cli("--quiet", "status").stdout == ""
    out = project.cli("--json", "status").stdout
    assert out.count("\n") == 1 and out.startswith("{")


def test_status_without_state_file_is_a_config_error(project: Project) -> None:
    project.state.unlink()
    result = project.cli("status")
    assert result.exit_code == 2 and "no state file" in result.stderr and "agent init" in result.stderr


def test_garbage_state_file_is_one_line_not_a_traceback(project: Project) -> None:
    for suffix in ("-wal", "-shm"):
        project.state.with_name(project.state.name + suffix).unlink(missing_ok=True)
    project.state.write_bytes(b"this is not sqlite" * 100)
    result = project.cli("status")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "cannot be used" in result.stderr and "Traceback" not in result.stderr
