"""One failure, one occurrence; probe windows and throw sites linking issues."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Project

FIXTURES = Path(__file__).parent / "fixtures" / "json_loggers"
T0 = 1796123242363  # 2026-12-01T11:07:22.363Z, in ms


@pytest.fixture
def logs(project: Project) -> Path:
    (project.root / "logs").mkdir()
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    return project.root / "logs"


def scan(project: Project) -> dict:
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr
    return r.json()


def issues(project: Project) -> list[dict]:
    return project.cli("--json", "issues").json()["issues"]


def stack(line: int, msg: str = "connect ECONNREFUSED 127.0.0.1:5432", func: str = "findOrder") -> str:
    return (f"Error: {msg}\n    at {func} (/srv/shop/src/orders.js:{line}:36)\n"
            "    at Server.<anonymous> (/srv/shop/src/server.js:14:9)\n    at Server.emit (node:events:524:28)")


def app_line(t: int, rid: int, line: int = 10, msg: str = "connect ECONNREFUSED 127.0.0.1:5432", func: str = "findOrder") -> str:
    return json.dumps({"level": 50, "time": t, "pid": 7, "hostname": "web1", "req": {"id": rid, "method": "GET", "url": f"/orders/{rid}"},
                       "userId": f"u{rid}", "err": {"type": "Error", "message": msg, "stack": stack(line, msg, func)}, "msg": "unhandled error"})


def errored_line(t: int, rid: int | None) -> str:
    record = {"level": 50, "time": t, "pid": 7, "hostname": "web1", "req": {"method": "GET", "url": f"/orders/{rid}"},
              "res": {"statusCode": 500}, "err": {"type": "Error", "message": "failed with status code 500",
                                                   "stack": "Error: failed with status code 500\n    at onResFinished "
                                                            "(/srv/shop/node_modules/pino-http/logger.js:115:39)"},
              "responseTime": 4, "msg": "request errored"}
    if rid is not None:
        record["req"]["id"] = rid  # type: ignore[index]
    return json.dumps(record)


def test_one_request_logged_three_ways_counts_once(project: Project, logs: Path) -> None:
    """pino's line, pino-http's "request errored" and the stack on stderr, as three_ways.js printed them."""
    (logs / "app.log").write_text((FIXTURES / "three_ways_app.log").read_text())
    (logs / "stderr.log").write_text((FIXTURES / "three_ways_stderr.log").read_text())
    assert scan(project)["events"] == 1
    (issue,) = issues(project)
    assert issue["count"] == 1 and issue["title"] == "Error: connect ECONNREFUSED <ip>" and issue["severity"] == "P0"
    shown = project.cli("--json", "show", str(issue["id"])).json()
    (event,) = shown["events"]
    assert event["request"]["status"] == 500 and event["request"]["path"] == "/orders/7" and event["user_id"] == "u42"
    assert sorted(event["request"]["also_logged"]) == [f"{logs / 'app.log'}:2", f"{logs / 'stderr.log'}:1"]
    assert shown["request_paths"] == ["/orders/7"]


def test_many_requests_each_logged_twice_count_once_each(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text("".join(app_line(T0 + i * 10, i) + "\n" + errored_line(T0 + i * 10 + 3, i) + "\n" for i in range(3)))
    (logs / "stderr.log").write_text("".join(stack(10) + "\n" for _ in range(3)))
    assert scan(project)["events"] == 3
    (issue,) = issues(project)
    assert issue["count"] == 3 and issue["affected_users"] == 3


def test_other_errors_of_the_same_request_stay_their_own(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text(app_line(T0, 1) + "\n" + app_line(T0 + 2, 1, line=99, msg="cannot read cart", func="loadCart") + "\n"
                                  + errored_line(T0 + 4, 1) + "\n")
    assert scan(project)["events"] == 2
    assert sorted(i["title"] for i in issues(project)) == ["Error: cannot read cart", "Error: connect ECONNREFUSED <ip>"]


def test_the_same_error_twice_from_one_writer_is_two_failures(project: Project, logs: Path) -> None:
    line = json.dumps({"level": 50, "time": T0, "err": {"type": "Error", "message": "boom", "stack": stack(10, "boom")}, "msg": "x"})
    (logs / "app.log").write_text(line + "\n" + line + "\n")
    assert scan(project)["events"] == 2


def test_the_same_error_seconds_apart_from_two_writers_is_two_failures(project: Project, logs: Path) -> None:
    def line(t: int) -> str:
        return json.dumps({"level": 50, "time": t, "err": {"type": "Error", "message": "boom", "stack": stack(10, "boom")}, "msg": "x"})
    (logs / "a.log").write_text(line(T0) + "\n")
    (logs / "b.log").write_text(line(T0 + 5000) + "\n")
    assert scan(project)["events"] == 2
    (logs / "c.log").write_text(line(T0 + 20000) + "\n")
    (logs / "d.log").write_text(line(T0 + 20400) + "\n")
    assert scan(project)["events"] == 1


def test_a_summary_without_request_id_attaches_to_the_error_of_its_second(project: Project, logs: Path) -> None:
    plain = json.dumps({"level": 50, "time": T0, "err": {"type": "Error", "message": "boom", "stack": stack(10, "boom")}, "msg": "x"})
    (logs / "app.log").write_text(plain + "\n" + errored_line(T0 + 300, None) + "\n" + errored_line(T0 + 9000, None) + "\n")
    assert scan(project)["events"] == 2  # the second summary has no error near it: it stays
    titles = {i["title"]: i for i in issues(project)}
    boom = project.cli("--json", "show", str(titles["Error: boom"]["id"])).json()
    assert boom["events"][0]["request"]["status"] == 500 and boom["request_paths"] == ["/orders/None"]


def test_dry_run_counts_once_too(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text((FIXTURES / "three_ways_app.log").read_text())
    (logs / "stderr.log").write_text((FIXTURES / "three_ways_stderr.log").read_text())
    r = project.cli("scan", "--dry-run", "--events")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1


def test_state_holds_one_event_row(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text((FIXTURES / "three_ways_app.log").read_text())
    (logs / "stderr.log").write_text((FIXTURES / "three_ways_stderr.log").read_text())
    scan(project)
    with sqlite3.connect(project.state) as db:
        assert db.execute("SELECT COUNT(*), SUM(count) FROM issue_minutes").fetchone() == (1, 1)
