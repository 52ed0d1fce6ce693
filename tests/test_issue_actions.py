"""`agent issues resolve|ignore|unignore`: a person closes or silences an issue, audited; scan respects it."""

from __future__ import annotations

import getpass
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Project

FILE_SOURCE = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
# A 5xx on an /api path: more than 10 in 5 minutes escalates it to P1 (default:busy-5xx-api).
TRACE = """2026-11-21 10:00:{sec:02d},000 ERROR app.views: request failed user_id={user} "GET /api/items/{item}" status=500
Traceback (most recent call last):
  File "/app/app/views.py", line 42, in get_item
    return repo.find(item_id).name
AttributeError: 'NoneType' object has no attribute 'name'
"""
HOLDER = """
import sys, time
from pathlib import Path
from agent_cli.config import load_settings
from agent_cli.runner import locked_run
with locked_run(load_settings(Path(sys.argv[1])), "test-holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def events(first: int, n: int) -> str:
    return "".join(TRACE.format(sec=i % 60, user=i, item=i) for i in range(first, first + n))


@pytest.fixture
def issue(project: Project) -> int:
    """One detected P2 issue (a 5xx on /api, seen once), from a real log file."""
    (project.root / "logs").mkdir()
    project.config.write_text(FILE_SOURCE)
    (project.root / "logs" / "app.log").write_text(events(0, 1))
    data = scan(project)
    (new,) = data["new_issues"]
    assert new["severity"] == "P2"
    return new["id"]


def scan(project: Project) -> dict:
    result = project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    return result.json()


def append(project: Project, text: str) -> None:
    with (project.root / "logs" / "app.log").open("a") as f:
        f.write(text)


def show(project: Project, issue_id: int) -> dict:
    result = project.cli("--json", "show", str(issue_id))
    assert result.exit_code == 0, result.stderr
    return result.json()


def act(project: Project, *args: str) -> dict:
    result = project.cli("--json", "issues", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


def listed(project: Project, *args: str) -> list[int]:
    result = project.cli("--json", "issues", *args)
    assert result.exit_code == 0, result.stderr
    return [i["id"] for i in result.json()["issues"]]


def audit_count(project: Project) -> int:
    return sqlite3.connect(project.state).execute("SELECT COUNT(*) FROM audit").fetchone()[0]


def minutes_total(project: Project, issue_id: int) -> int:
    return sqlite3.connect(project.state).execute("SELECT SUM(count) FROM issue_minutes WHERE issue_id = ?", [issue_id]).fetchone()[0]


def test_resolve_ignore_unignore_are_transitions_audited_with_reason_and_user(project: Project, issue: int) -> None:
    me = getpass.getuser()
    done = act(project, "resolve", str(issue), "--reason", "fixed by hand in a1b2c3")
    assert (done["id"], done["old_status"], done["new_status"], done["changed"]) == (issue, "detected", "resolved", True)
    shown = show(project, issue)
    assert shown["status"] == "resolved" and shown["status_reason"] == "fixed by hand in a1b2c3"
    record = shown["audit"][-1]
    assert (record["step"], record["decision"], record["reason"]) == ("issues", "status:resolved", "fixed by hand in a1b2c3")
    assert record["details"] == {"from": "detected", "to": "resolved", "by": me, "action": "resolve"}

    # Asking for what already holds is a no-op, exit 0, on the record.
    again = act(project, "resolve", str(issue), "--reason", "double-check")
    assert (again["old_status"], again["new_status"], again["changed"]) == ("resolved", "resolved", False)
    assert show(project, issue)["audit"][-1]["decision"] == "unchanged"

    ignored = act(project, "ignore", str(issue), "--reason", "third-party bot traffic")
    assert (ignored["old_status"], ignored["new_status"]) == ("resolved", "ignored")
    assert act(project, "ignore", str(issue), "--reason", "still noise")["changed"] is False

    # Resolving an ignored issue is refused by the transition table: exit 3, one line naming the rule, audited.
    refused = project.cli("issues", "resolve", str(issue), "--reason", "closing")
    assert refused.exit_code == 3
    assert refused.stderr.strip().count("\n") == 0 and "rule: issue.transition" in refused.stderr
    assert "ignored" in refused.stderr and "resolved" in refused.stderr
    assert show(project, issue)["status"] == "ignored"
    assert show(project, issue)["audit"][-1]["decision"] == "transition-refused"

    back = act(project, "unignore", str(issue))  # --reason is optional here
    assert (back["old_status"], back["new_status"]) == ("ignored", "detected")
    record = show(project, issue)["audit"][-1]
    assert record["decision"] == "status:detected" and record["details"]["by"] == me and record["details"]["action"] == "unignore"
    assert act(project, "unignore", str(issue), "--reason", "again")["changed"] is False
    assert project.cli("audit", "verify").exit_code == 0


def test_listing_keeps_working_with_and_without_filters(project: Project, issue: int) -> None:
    assert listed(project) == [issue]
    assert listed(project, "--status", "detected") == [issue]
    act(project, "ignore", str(issue), "--reason", "noise")
    assert listed(project, "--status", "detected") == []
    assert listed(project, "--status", "ignored") == [issue]
    assert listed(project, "--status", "ignored", "--severity", "p2") == [issue]
    assert listed(project, "--severity", "P0") == []
    text = project.cli("issues")
    assert text.exit_code == 0 and "ignored" in text.stdout
    bad = project.cli("issues", "--status", "closed")
    assert bad.exit_code == 2 and "--status must be one of" in bad.stderr


@pytest.mark.parametrize("args, words", [
    (["resolve", "1"], "needs --reason"),
    (["ignore", "1", "--reason", "   "], "needs --reason"),
    (["resolve", "99", "--reason", "x"], "no issue 99"),
    (["unignore", "99"], "no issue 99"),
])
def test_usage_errors_exit_2_with_one_line_and_change_nothing(project: Project, issue: int, args: list[str], words: str) -> None:
    before = audit_count(project)
    result = project.cli("issues", *args)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and words in result.stderr
    assert audit_count(project) == before
    assert show(project, issue)["status"] == "detected"


def test_a_held_lock_exits_75_and_listing_still_works(project: Project, issue: int) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(project.config), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = project.cli("issues", "ignore", str(issue), "--reason", "noise")
        assert result.exit_code == 75 and f"pid {holder.pid}" in result.stderr
        assert listed(project) == [issue]  # reading needs no lock
    finally:
        holder.kill()
        holder.wait()
    assert show(project, issue)["status"] == "detected"


def test_an_ignored_fingerprint_is_counted_but_raises_nothing_until_unignored(project: Project, issue: int) -> None:
    act(project, "resolve", str(issue), "--reason", "deployed a fix")
    act(project, "ignore", str(issue), "--reason", "the fix is upstream; silence it meanwhile")
    before = show(project, issue)

    # Twelve more 5xx on /api in the same minute: busy enough for P1, one of them matching a P0 rule, and a
    # resolved issue seen again would be a regression. Ignored: counted, nothing else.
    project.config.write_text(FILE_SOURCE + '[[severity.rules]]\npattern = "checkout"\nseverity = "P0"\n')
    append(project, events(1, 11) + TRACE.format(sec=12, user=12, item=12).replace("request failed", "checkout failed"))
    data = scan(project)
    assert data["events"] == 12
    assert data["new_issues"] == [] and data["updated_issues"] == [] and data["regressions"] == []
    assert [i["id"] for i in data["ignored"]] == [issue]
    after = show(project, issue)
    assert after["status"] == "ignored" and after["regressions"] == 0
    assert (after["severity"], after["severity_rule"]) == (before["severity"], before["severity_rule"]) == ("P2", "default:unhandled-exception")
    assert after["count"] == before["count"] + 12 == 13
    assert after["last_seen"] > before["last_seen"]
    assert minutes_total(project, issue) == 13
    assert [a["decision"] for a in after["audit"]] == [a["decision"] for a in before["audit"]]  # nothing raised on the issue
    assert listed(project, "--status", "detected") == []

    # Un-ignored, the next event is treated like any other: reported as updated, escalated by the busy-5xx rule.
    act(project, "unignore", str(issue), "--reason", "upstream fixed")
    append(project, events(13, 1))
    data = scan(project)
    assert [i["id"] for i in data["updated_issues"]] == [issue] and data["ignored"] == []
    shown = show(project, issue)
    assert shown["status"] == "detected" and shown["count"] == 14
    assert shown["severity"] == "P1" and shown["severity_rule"].startswith("default:busy-5xx-api")
    assert project.cli("audit", "verify").exit_code == 0


def test_regression_reopen_of_a_resolved_issue_is_a_transition(project: Project, issue: int) -> None:
    act(project, "resolve", str(issue), "--reason", "deployed a fix")
    append(project, events(1, 1))
    data = scan(project)
    assert data["regressions"] == [issue] and [i["id"] for i in data["updated_issues"]] == [issue]
    shown = show(project, issue)
    assert shown["status"] == "detected" and shown["regressions"] == 1
    assert shown["status_reason"].startswith("regression:")
    moved = [a for a in shown["audit"] if a["decision"] == "status:detected"]
    assert len(moved) == 1 and moved[0]["step"] == "scan" and moved[0]["reason"].startswith("regression: resolved issue seen again")
    assert moved[0]["details"]["from"] == "resolved" and moved[0]["details"]["to"] == "detected"
    reopened = [a for a in shown["audit"] if a["decision"] == "reopened"]
    assert len(reopened) == 1 and reopened[0]["details"] == {"regressions": 1}

    # Resolved and seen again once more: the counter keeps counting.
    act(project, "resolve", str(issue), "--reason", "really fixed")
    append(project, events(2, 1))
    assert scan(project)["regressions"] == [issue]
    assert show(project, issue)["regressions"] == 2
    assert project.cli("audit", "verify").exit_code == 0


def test_scan_never_writes_issue_status_itself() -> None:
    import importlib

    scan_module = importlib.import_module("agent_cli.detect.scan")  # `agent_cli.detect.scan` the attribute is the function
    source = Path(scan_module.__file__).read_text()
    # Its writes go through agent_cli.store.issues; the status one (set_status) is transitions.move's alone.
    writes = set(re.findall(r"store_issues\.(\w+)\(", source))
    assert writes, "expected the scan's writes through store_issues"
    assert "set_status" not in writes, writes


@pytest.mark.parametrize("action", ["resolve", "ignore", "unignore"])
def test_actions_have_help_with_reason(project: Project, action: str) -> None:
    result = project.cli("issues", action, "--help")
    assert result.exit_code == 0 and "--reason" in result.stdout and "ISSUE" in result.stdout
