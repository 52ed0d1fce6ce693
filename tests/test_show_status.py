"""What people see: `agent show` cuts raw lines to a readable width (whole with -v); `agent status` lists newest
issues and approvals and, with --check, says whether the cron job is alive."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Project

LONG = "x" * 5000


def _long_issue(project: Project) -> int:
    (project.root / "logs").mkdir()
    (project.root / "logs" / "app.log").write_text(json.dumps({"level": "error", "msg": f"ValueError: bad payload {LONG}"}) + "\n")
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    scanned = project.cli("--json", "scan").json()
    return int(scanned["new_issues"][0]["id"])


def test_show_cuts_raw_lines_and_verbose_shows_them_whole(project: Project) -> None:
    issue = _long_issue(project)
    short = project.cli("show", str(issue))
    assert short.exit_code == 0
    assert max(len(line) for line in short.stdout.splitlines()) < 400
    assert LONG not in short.stdout
    full = project.cli("--verbose", "show", str(issue))
    assert LONG in full.stdout.replace("\n", "")


def test_status_lists_newest_issues_and_the_check_fails_without_a_good_run(project: Project) -> None:
    issue = _long_issue(project)
    data = project.cli("--json", "status").json()
    assert [i["id"] for i in data["newest_issues"]] == [issue]
    assert data["approvals"] == []
    dead = project.cli("status", "--check", "--max-age", "15")
    assert dead.exit_code == 1 and "no `agent run`" in dead.stderr
    assert project.cli("run", "--level", "1").exit_code == 0
    assert project.cli("status", "--check", "--max-age", "15").exit_code == 0
    con = sqlite3.connect(project.state)
    con.execute("UPDATE runs SET finished_at = '2000-01-01T00:00:00+00:00' WHERE command = 'run'")
    con.commit()
    con.close()
    stale = project.cli("status", "--check", "--max-age", "15")
    assert stale.exit_code == 1 and "older than 15 min" in stale.stderr
