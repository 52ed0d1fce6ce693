"""`agent scan` on real files, commands, a local HTTP server and JUnit reports."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Project

TRACEBACK = """{ts} ERROR app.views: request failed request_id={rid} user_id={user} "GET /api/items/{item}" status=500
Traceback (most recent call last):
  File "/app/app/views.py", line {line}, in get_item
    return repo.find(item_id).name
  File "/app/app/repo.py", line 7, in find
    return self.rows[key].name
AttributeError: 'NoneType' object has no attribute 'name'
"""
KEYERROR = """{ts} ERROR app.views: lookup failed request_id={rid}
Traceback (most recent call last):
  File "/app/app/views.py", line 30, in list_items
    return cache["items"]
KeyError: 'items'
"""


def info(n: int) -> str:
    return f"2026-11-21 10:00:{n % 60:02d},000 INFO app.http: \"GET /api/ok/{n}\" 200 3ms\n"


def configure(project: Project, sources: str, extra: str = "") -> None:
    project.config.write_text(sources + extra)


FILE_SOURCE = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'


@pytest.fixture
def logs(project: Project) -> Path:
    (project.root / "logs").mkdir()
    configure(project, FILE_SOURCE)
    return project.root / "logs"


def scan(project: Project, *args: str) -> dict:
    result = project.cli("--json", "scan", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


def issues(project: Project) -> list[dict]:
    return project.cli("--json", "issues").json()["issues"]


def test_same_bug_groups_and_different_bugs_split(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text(
        info(1)
        + TRACEBACK.format(ts="2026-11-21 10:00:01,000", rid="a1f3", user=1, item=7, line=42)
        + info(2)
        + TRACEBACK.format(ts="2026-11-21 10:00:02,000", rid="b9c2", user=2, item=8, line=44)  # line moved: same bug
        + KEYERROR.format(ts="2026-11-21 10:00:03,000", rid="c3d4")
    )
    data = scan(project)
    assert data["events"] == 3 and data["sources"]["app"]["lines"] == 21
    found = {i["title"]: i for i in issues(project)}
    assert len(found) == 2
    attr = found["AttributeError: <str> object has no attribute <str>"]
    assert attr["count"] == 2 and attr["affected_users"] == 2
    assert found["KeyError: <str>"]["count"] == 1


def test_scan_twice_counts_once_and_appends_are_read_incrementally(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(info(1) + KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    assert scan(project)["events"] == 1
    assert scan(project)["events"] == 0
    with log.open("a") as f:
        f.write(info(2) + KEYERROR.format(ts="2026-11-21 10:01:01,000", rid="2"))
    second = scan(project)
    assert second["events"] == 1 and second["sources"]["app"]["lines"] == 6
    assert [i["count"] for i in issues(project)] == [2]


def test_a_line_still_being_written_is_read_once_complete(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(info(1) + "2026-11-21 10:00:01,000 ERROR app: disk qu")  # writer mid-line
    assert scan(project)["events"] == 0
    with log.open("a") as f:
        f.write("ota exceeded on /data\n")
    data = scan(project)
    assert data["events"] == 1
    assert issues(project)[0]["title"] == "disk quota exceeded on /data"


def test_traceback_split_across_reads_is_one_event(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    block = TRACEBACK.format(ts="2026-11-21 10:00:01,000", rid="r1", user=1, item=1, line=42)
    cut = block.index("  File \"/app/app/repo.py\"")
    log.write_text(info(1) + block[:cut])
    assert scan(project)["events"] == 0  # the traceback has no exception line yet: held back
    with log.open("a") as f:
        f.write(block[cut:] + info(2))
    assert scan(project)["events"] == 1
    (only,) = issues(project)
    assert only["title"].startswith("AttributeError") and only["count"] == 1
    event = project.cli("--json", "show", str(only["id"])).json()["events"][0]
    assert event["line"] == 2 and len(event["frames"]) == 2


def test_rotation_and_truncation_are_followed(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(info(1) + KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    assert scan(project)["events"] == 1
    # logrotate: move away, a new file (new inode) takes the name.
    os.rename(log, logs / "app.log.1")
    log.write_text(KEYERROR.format(ts="2026-11-21 10:05:01,000", rid="2"))
    data = scan(project)
    assert data["events"] == 1 and any("rotated" in e for e in data["sources"]["app"]["errors"])
    # copytruncate: same inode, shorter file.
    log.write_text(KEYERROR.format(ts="2026-11-21 10:09:01,000", rid="3"))
    os.truncate(log, 0)
    log.write_text(KEYERROR.format(ts="2026-11-21 10:10:01,000", rid="4"))
    data = scan(project)
    assert data["events"] == 1
    assert issues(project)[0]["count"] == 3


def test_files_that_appear_later_are_picked_up(project: Project, logs: Path) -> None:
    assert scan(project)["events"] == 0
    (logs / "worker.log").write_text(KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    assert scan(project)["events"] == 1


def test_bad_input_is_skipped_and_good_lines_around_it_count(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    with log.open("wb") as f:
        f.write(b"\x00\x01\xff\xfe ERROR \x00 binary junk\n")
        f.write("2026-11-21 10:00:01,000 ERROR app: caf\u00e9 failed \xff\n".encode("utf-8", "surrogateescape") + b"\xc3\x28 bad utf8\n")
        f.write(b'{"level": "error", "msg": "truncated json li\n')
        f.write(b"x" * (2 * 1024 * 1024) + b" ERROR in a huge line\n")
        f.write(KEYERROR.format(ts="2026-11-21 10:00:02,000", rid="1").encode())
    data = scan(project)
    errors = data["sources"]["app"]["errors"]
    assert any("binary" in e for e in errors) and any("byte line skipped" in e for e in errors)
    titles = sorted(i["title"] for i in issues(project))
    assert "KeyError: <str>" in titles
    assert any(t.startswith("caf") for t in titles)
    assert any("truncated json" in t for t in titles)
    assert scan(project)["events"] == 0  # nothing reread


def test_a_giant_line_still_being_written_is_skipped_without_losing_what_follows(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    with log.open("wb") as f:
        f.write(b"y" * (3 * 1024 * 1024))  # no newline yet
    data = scan(project)
    assert data["events"] == 0 and any("longer than" in e for e in data["sources"]["app"]["errors"])
    with log.open("ab") as f:
        f.write(b" ERROR tail of the giant line\n" + KEYERROR.format(ts="2026-11-21 10:00:02,000", rid="1").encode())
    data = scan(project)
    assert data["events"] == 1
    assert [i["title"] for i in issues(project)] == ["KeyError: <str>"]


def test_unreadable_file_is_a_source_error_and_other_files_still_count(project: Project, logs: Path, mocker) -> None:
    # As root nothing is unreadable for real, so the open() failure is simulated.
    from agent_cli.detect import sources

    (logs / "a.log").write_text(KEYERROR.format(ts="2026-11-21 10:00:02,000", rid="1"))
    (logs / "b.log").write_text(KEYERROR.format(ts="2026-11-21 10:00:03,000", rid="2"))
    real_open = open

    def fake_open(path, *a, **k):
        if str(path).endswith("a.log"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    mocker.patch.object(sources, "open", fake_open, create=True)
    from agent_cli.config import load_settings
    from agent_cli.detect.scan import scan as run_scan
    from agent_cli.runner import locked_run

    with locked_run(load_settings(project.config), "scan") as run:
        result = run_scan(run)
    assert result.events == 1
    assert any("a.log: cannot read: Permission denied" in e for e in result.sources["app"]["errors"])


def test_json_lines_and_js_stacks(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text(
        '{"time":"2026-11-21T10:00:00Z","level":"info","msg":"ok"}\n'
        '{"time":"2026-11-21T10:00:01Z","level":"error","msg":"charge failed","userId":"u1","path":"/api/pay?x=1","status":502}\n'
        '{"time":"2026-11-21T10:00:02Z","level":50,"msg":"pino error","user":{"id":"u2"}}\n'
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at getUser (/srv/web/src/users.js:12:5)\n"
        "    at processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
    )
    data = scan(project)
    assert data["events"] == 3
    by_title = {i["title"]: i for i in issues(project)}
    assert by_title["charge failed"]["affected_users"] == 1
    shown = project.cli("--json", "show", str(by_title["charge failed"]["id"])).json()
    assert shown["request_paths"] == ["/api/pay"] and shown["events"][0]["request"]["status"] == 502
    assert "pino error" in by_title
    js = next(i for t, i in by_title.items() if t.startswith("TypeError"))
    frames = project.cli("--json", "show", str(js["id"])).json()["events"][0]["frames"]
    assert [f["in_app"] for f in frames] == [True, False]


def test_java_caused_by_is_one_event(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text(
        "2026-11-21 10:00:01 SEVERE com.shop.Orders - order failed\n"
        "java.lang.IllegalStateException: no stock\n"
        "\tat com.shop.Orders.place(Orders.java:42)\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
        "Caused by: java.sql.SQLException: timeout\n"
        "\tat com.shop.Db.query(Db.java:7)\n"
        "\t... 3 more\n" + info(5)
    )
    assert scan(project)["events"] == 1


def test_severity_rules_first_match_and_default_ladder(project: Project, logs: Path) -> None:
    configure(project, FILE_SOURCE, '[[severity.rules]]\npattern = "payment"\nseverity = "P1"\n'
              '[[severity.rules]]\npattern = "payment|quota"\nseverity = "P4"\n')
    (logs / "app.log").write_text(
        "2026-11-21 10:00:01,000 ERROR app: payment provider rejected card\n"
        "2026-11-21 10:00:02,000 ERROR app: disk quota exceeded\n"
        "2026-11-21 10:00:03,000 ERROR app: could not connect to server: connection refused\n"
        "2026-11-21 10:00:04,000 WARNING app: slow request\n"
        + KEYERROR.format(ts="2026-11-21 10:00:05,000", rid="1")
    )
    scan(project)
    conn = sqlite3.connect(project.state)
    got = dict(conn.execute("SELECT title, severity || ' ' || severity_rule FROM issues"))
    assert got["payment provider rejected card"] == "P1 severity.rules[0]"
    assert got["disk quota exceeded"] == "P4 severity.rules[1]"
    assert got["could not connect to server: connection refused"] == "P0 default:database-unreachable"
    assert got["slow request"] == "P3 default:warning-or-handled-error"
    assert got["KeyError: <str>"] == "P2 default:unhandled-exception"


def test_busy_5xx_on_an_api_path_escalates_to_p1(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text("".join(
        TRACEBACK.format(ts=f"2026-11-21 10:00:{i:02d},000", rid=i, user=i % 3, item=i, line=42) for i in range(12)
    ))
    scan(project)
    (issue,) = issues(project)
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert shown["severity"] == "P1" and shown["severity_rule"].startswith("default:busy-5xx-api")


def test_resolved_issue_that_reappears_is_reopened_as_regression(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    scan(project)
    conn = sqlite3.connect(project.state)
    conn.execute("UPDATE issues SET status = 'resolved'")
    conn.commit()
    with log.open("a") as f:
        f.write(KEYERROR.format(ts="2026-11-21 11:00:01,000", rid="2"))
    data = scan(project)
    assert data["regressions"] == [1]
    shown = project.cli("--json", "show", "1").json()
    assert shown["status"] == "detected" and shown["regressions"] == 1
    assert any(a["decision"] == "reopened" and "regression" in a["reason"] for a in shown["audit"])


def test_auto_fixable_needs_an_unprotected_in_repo_frame(project: Project, logs: Path) -> None:
    (project.root / "app").mkdir()
    (project.root / "app" / "views.py").write_text("x = 1\n")
    (project.root / "billing").mkdir()
    (project.root / "billing" / "charge.py").write_text("y = 2\n")
    (logs / "app.log").write_text(
        KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1")
        + "2026-11-21 10:00:02,000 ERROR app: boom\nTraceback (most recent call last):\n"
        '  File "/app/billing/charge.py", line 1, in charge\n    y = 2\nValueError: bad amount\n'
        + "2026-11-21 10:00:03,000 ERROR app: no trace here\n"
    )
    scan(project)
    conn = sqlite3.connect(project.state)
    got = {t: (f, r, c) for t, f, r, c in conn.execute("SELECT title, auto_fixable, auto_fixable_reason, culprit FROM issues")}
    assert got["KeyError: <str>"][0] == 1 and got["KeyError: <str>"][2] == "app/views.py:30"
    assert got["ValueError: bad amount"][0] == 0 and "protected" in got["ValueError: bad amount"][1]
    assert got["no trace here"][0] == 0 and got["no trace here"][1] == "no stack trace"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"status": "ok" if type(self).status == 200 else "degraded"}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server():
    handler = type("Handler", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_http_probe_against_a_real_local_server(project: Project, health_server) -> None:
    server, handler = health_server
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    configure(project, f'[[sources]]\nname = "health"\nkind = "http"\nurl = "{url}"\nexpect_json = {{ status = "ok" }}\n')
    assert scan(project)["events"] == 0
    handler.status = 503
    data = scan(project)
    assert data["events"] == 1
    (issue,) = issues(project)
    assert issue["severity"] == "P0" and "503" in issue["title"]


def test_refused_url_is_an_endpoint_down_event_and_other_sources_go_on(project: Project, logs: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configure(project, FILE_SOURCE + f'[[sources]]\nname = "health"\nkind = "http"\nurl = "http://127.0.0.1:{port}/health"\ntimeout_s = 2\n')
    (logs / "app.log").write_text(KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    data = scan(project)
    assert data["sources"]["app"]["events"] == 1 and data["sources"]["health"]["events"] == 1
    down = [i for i in issues(project) if i["source"] == "health"][0]
    conn = sqlite3.connect(project.state)
    assert conn.execute("SELECT severity_rule FROM issues WHERE id = ?", [down["id"]]).fetchone()[0] == "default:endpoint-down"


def test_command_source_parses_output_and_survives_hangs_and_failures(project: Project, tmp_path: Path) -> None:
    script = tmp_path / "emit.sh"
    script.write_text("#!/bin/sh\nprintf '%s\\n' 'Nov 21 app[1]: ERROR worker: job 17 crashed' 'Nov 21 app[1]: INFO fine'\n")
    script.chmod(0o755)
    configure(project, f'[[sources]]\nname = "journal"\nkind = "command"\ncommand = "{script}"\n'
              '[[sources]]\nname = "hang"\nkind = "command"\ncommand = "sleep 30"\ntimeout_s = 0.5\n'
              '[[sources]]\nname = "broken"\nkind = "command"\ncommand = ["sh", "-c", "echo nope >&2; exit 3"]\n'
              '[[sources]]\nname = "missing"\nkind = "command"\ncommand = "/nonexistent/tool"\n')
    data = scan(project)
    assert data["sources"]["journal"]["events"] == 1 and data["sources"]["journal"]["lines"] == 2
    assert "timed out" in data["sources"]["hang"]["errors"][0]
    assert "exited 3: nope" in data["sources"]["broken"]["errors"][0]
    assert "could not start" in data["sources"]["missing"]["errors"][0]
    assert issues(project)[0]["title"] == "job <num> crashed"


def test_junit_failures_become_events_once_per_report(project: Project) -> None:
    reports = project.root / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="s" tests="3">'
        '<testcase classname="tests.test_cart" name="test_ok"/>'
        '<testcase classname="tests.test_cart" name="test_total"><failure message="assert 3 == 4" type="AssertionError">'
        'Traceback (most recent call last):\n  File "/app/tests/test_cart.py", line 9, in test_total\n    assert total() == 4\nAssertionError: assert 3 == 4'
        '</failure></testcase>'
        '<testcase classname="tests.test_cart" name="test_db"><error message="boom" type="builtins.ConnectionError">ConnectionError: boom</error></testcase>'
        "</testsuite></testsuites>"
    )
    (reports / "broken.xml").write_text("<testsuites><testsuite>")
    configure(project, '[[sources]]\nname = "tests"\nkind = "junit"\npaths = ["reports/*.xml"]\n')
    data = scan(project)
    assert data["events"] == 2 and data["sources"]["tests"]["lines"] == 3
    assert any("not valid JUnit XML" in e for e in data["sources"]["tests"]["errors"])
    assert scan(project)["events"] == 0  # same report, not counted again
    types = sorted(i["title"].split(":")[0] for i in issues(project))
    assert types == ["AssertionError", "ConnectionError"]


def test_dry_run_events_reads_from_the_start_and_changes_nothing(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(info(1) + KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1") + "2026-11-21 10:00:02,000 WARN app: low disk 5%\n")
    scan(project)
    before = project.state.read_bytes()
    result = project.cli("scan", "--dry-run", "--events")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["line"], r["level"], r["exception_type"], r["severity"]) for r in records] == [
        (2, "error", "KeyError", "P2"), (7, "warning", None, "P3")]
    assert set(records[0]) == {"source", "path", "line", "level", "exception_type", "fingerprint", "template", "severity"}
    assert records[1]["template"] == "low disk <num>%"
    # --path reads one file; neither run touched state or cursors.
    other = project.root / "other.log"
    other.write_text(KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="9"))
    only = project.cli("scan", "--dry-run", "--events", "--path", str(other))
    assert [json.loads(line)["path"] for line in only.stdout.splitlines()] == [str(other)]
    assert project.state.read_bytes() == before


def test_min_level_decides_what_is_an_event(project: Project, logs: Path) -> None:
    configure(project, FILE_SOURCE.replace('paths = ["logs/*.log"]', 'paths = ["logs/*.log"]\nmin_level = "error"'))
    (logs / "app.log").write_text("2026-11-21 10:00:02,000 WARNING app: low disk\n2026-11-21 10:00:03,000 ERROR app: disk full\n")
    assert scan(project)["events"] == 1


def test_unknown_source_is_a_usage_error(project: Project, logs: Path) -> None:
    result = project.cli("scan", "--source", "nope")
    assert result.exit_code == 2 and "unknown source nope" in result.stderr


def test_error_rate_metrics_are_kept_per_source(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text("".join(info(i) for i in range(9)) + KEYERROR.format(ts="2026-11-21 10:00:01,000", rid="1"))
    scan(project)
    conn = sqlite3.connect(project.state)
    assert conn.execute("SELECT SUM(lines), SUM(events) FROM source_metrics WHERE source = 'app'").fetchone() == (14, 1)


def test_bundled_example_log_reads_as_documented(project: Project) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "logs" / "mixed.log"
    result = project.cli("scan", "--dry-run", "--events", "--path", str(example))
    assert result.exit_code == 0, result.stderr
    got = [(r["line"], r["level"], r["exception_type"], r["severity"]) for r in map(json.loads, result.stdout.splitlines())]
    assert got == [
        (2, "error", "AttributeError", "P2"),
        (7, "warning", None, "P3"),
        (8, "error", None, "P3"),
        (10, "error", "KeyError", "P2"),  # the chained traceback is one event; the last exception propagated
        (24, "error", "TypeError", "P2"),
        (27, "error", "java.lang.IllegalStateException", "P2"),
    ]
