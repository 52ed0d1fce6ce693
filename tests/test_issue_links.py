"""Related issues: a failing health probe and the errors of its minutes (linked, raised to P1); one throw site, one root cause.

Real log files, a real HTTP server on 127.0.0.1 (or a port nobody listens on), real scans through the CLI.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Project

VIEWS = """def get_item(item_id):
    check(item_id)
    item = repo.find(item_id)
    return item.name


def list_items():
    return cache["items"]
"""
# Two different exceptions thrown in get_item, one in list_items (the same type and message as the first).
NONE_IN_GET = """{ts} ERROR app.views: request failed "GET /items/{n}" status=500
Traceback (most recent call last):
  File "/srv/lib/python3.12/site-packages/flask/app.py", line 1473, in wsgi_app
    response = self.full_dispatch_request()
  File "/app/app/views.py", line 4, in get_item
    return item.name
AttributeError: 'NoneType' object has no attribute 'name'
"""
KEY_IN_GET = """{ts} ERROR app.views: lookup failed
Traceback (most recent call last):
  File "/app/app/views.py", line 3, in get_item
    item = repo.find(item_id)
KeyError: 'items'
"""
NONE_IN_LIST = """{ts} ERROR app.views: listing failed
Traceback (most recent call last):
  File "/app/app/views.py", line 8, in list_items
    return cache["items"].name
AttributeError: 'NoneType' object has no attribute 'name'
"""
DB_DOWN = "{ts} ERROR app.db: could not connect to server: connection refused\n"
RULE = "default:errors-while-probe-failing"


class _Health(BaseHTTPRequestHandler):
    status = 500

    def do_GET(self) -> None:  # noqa: N802
        body = b'{"status": "degraded"}' if type(self).status != 200 else b'{"status": "ok"}'
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health() -> Iterator[tuple[str, type[_Health]]]:
    """A /health on 127.0.0.1 answering 500 until the test sets `handler.status`."""
    handler = type("Handler", (_Health,), {"status": 500})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health", handler
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:  # bound, never listening, closed: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/health"


def setup(project: Project, url: str | None) -> Path:
    (project.root / "app").mkdir()
    (project.root / "app" / "__init__.py").write_text("")
    (project.root / "app" / "views.py").write_text(VIEWS)
    (project.root / "logs").mkdir()
    config = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
    if url:
        config += f'[[sources]]\nname = "health"\nkind = "http"\nurl = "{url}"\ntimeout_s = 2\n'
    project.config.write_text(config)
    return project.root / "logs" / "app.log"


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S,000")


def scan(project: Project) -> dict:
    result = project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    return result.json()


def listed(project: Project) -> dict[str, dict]:
    """`agent issues --json` by where each is thrown (its culprit, e.g. `app/views.py:3`), else by source (`health`) or title."""
    result = project.cli("--json", "issues")
    assert result.exit_code == 0, result.stderr
    conn = sqlite3.connect(project.state)
    try:
        culprits = dict(conn.execute("SELECT id, culprit FROM issues").fetchall())
    finally:
        conn.close()
    out = {}
    for issue in result.json()["issues"]:
        key = culprits[issue["id"]] or ("health" if issue["source"] == "health" else issue["title"])
        assert key not in out
        out[key] = issue
    return out


def show(project: Project, issue: int) -> dict:
    result = project.cli("--json", "show", str(issue))
    assert result.exit_code == 0, result.stderr
    return result.json()


def links(project: Project) -> list[tuple[int, int, str]]:
    conn = sqlite3.connect(project.state)
    try:
        return conn.execute("SELECT issue_id, related_id, kind FROM issue_links ORDER BY issue_id, related_id, kind").fetchall()
    finally:
        conn.close()


def related(issue: dict, kind: str) -> set[int]:
    return {r["id"] for r in issue["related"] if r["kind"] == kind}


def audits(shown: dict, decision: str) -> list[dict]:
    return [a for a in shown["audit"] if a["decision"] == decision]


GET_NONE, GET_KEY, LIST_NONE = "app/views.py:4", "app/views.py:3", "app/views.py:8"  # culprits: where each is thrown


def test_failing_probe_links_the_errors_of_its_minutes_both_ways_and_raises_them_to_p1(project: Project, health) -> None:
    url, _ = health
    log = setup(project, url)
    now = datetime.now(timezone.utc)
    log.write_text(
        NONE_IN_GET.format(ts=stamp(now - timedelta(minutes=1)), n=1)
        + KEY_IN_GET.format(ts=stamp(now - timedelta(minutes=2)))
        + DB_DOWN.format(ts=stamp(now - timedelta(minutes=1)))  # P0 by its own rule: linked, never lowered
        + NONE_IN_LIST.format(ts=stamp(now - timedelta(minutes=45)))  # long before the probe failed
    )
    data = scan(project)
    assert data["events"] == 5
    found = listed(project)
    probe, far = found["health"], found[LIST_NONE]
    near = [found[GET_NONE], found[GET_KEY]]
    db = next(i for t, i in found.items() if "could not connect" in t)
    assert probe["severity"] == "P0"
    # Both ways, in `agent issues --json`.
    assert related(probe, "probe_window") == {near[0]["id"], near[1]["id"], db["id"]}
    for issue in (*near, db):
        assert related(issue, "probe_window") == {probe["id"]}
    assert related(far, "probe_window") == set()
    # Errors while the probe fails: P1, the rule named, audited; the P0 stays P0; the far one stays P2.
    for issue in near:
        shown = show(project, issue["id"])
        assert (shown["severity"], shown["severity_rule"]) == ("P1", RULE)
        (raised,) = audits(shown, "severity_raised")
        assert raised["details"]["from"] == "P2" and raised["details"]["to"] == "P1" and raised["details"]["rule"] == RULE
        assert raised["details"]["probe_issues"] == [probe["id"]] and RULE in raised["reason"]
        assert {r["id"] for r in shown["related"] if r["kind"] == "probe_window"} == {probe["id"]}
    assert show(project, db["id"])["severity"] == "P0"
    assert not audits(show(project, db["id"]), "severity_raised")
    far_shown = show(project, far["id"])
    assert far_shown["severity"] == "P2" and far_shown["severity_rule"] == "default:unhandled-exception"
    assert not audits(far_shown, "severity_raised")
    assert {r["kind"] for r in far_shown["related"]} <= {"same_throw_site"}  # never probe_window
    # The scan's own summary says P1 too.
    summary = {s["id"]: s["severity"] for s in data["new_issues"]}
    assert summary[near[0]["id"]] == "P1" and summary[far["id"]] == "P2"
    # `agent show` and `agent issues` print the links.
    text = project.cli("show", str(probe["id"])).stdout
    assert "related issues" in text and "probe window" in text and "KeyError" in text
    listing = project.cli("issues").stdout
    row = next(line for line in listing.splitlines() if "KeyError" in line)
    assert f"{probe['id']} probe" in row
    assert project.cli("audit", "verify").exit_code == 0


def test_window_is_five_minutes_either_side_of_the_probe_minutes_and_late_logs_link(project: Project, health) -> None:
    url, handler = health
    log = setup(project, url)
    log.write_text("")
    scan(project)  # the probe fails; no errors yet
    conn = sqlite3.connect(project.state)
    ((probe_id, minute),) = conn.execute("SELECT issue_id, minute FROM issue_minutes").fetchall()
    conn.close()
    failed = datetime.fromisoformat(minute).replace(tzinfo=timezone.utc)
    handler.status = 200  # healthy again: only the late error lines are new in the next scan
    log.write_text(
        NONE_IN_GET.format(ts=stamp(failed - timedelta(minutes=5)), n=1)  # 5 min before: inside
        + KEY_IN_GET.format(ts=stamp(failed + timedelta(minutes=5, seconds=59)))  # the 5th minute after: inside
        + NONE_IN_LIST.format(ts=stamp(failed - timedelta(minutes=6)))  # 6 min before: outside
        + DB_DOWN.format(ts=stamp(failed + timedelta(minutes=6)))  # 6 min after: outside
    )
    assert scan(project)["events"] == 4
    found = listed(project)
    inside = {found[GET_NONE]["id"], found[GET_KEY]["id"]}
    assert found["health"]["id"] == probe_id
    assert related(found["health"], "probe_window") == inside
    outside = [i for i in found.values() if i["id"] not in inside | {probe_id}]
    assert len(outside) == 2
    for issue in outside:
        assert related(issue, "probe_window") == set() and issue["severity"] != "P1"
    for issue_id in inside:
        assert show(project, issue_id)["severity_rule"] == RULE


def test_links_persist_across_scans_without_duplicates(project: Project) -> None:
    log = setup(project, closed_port_url())  # refused: the probe is down
    now = datetime.now(timezone.utc)
    log.write_text(NONE_IN_GET.format(ts=stamp(now), n=1) + KEY_IN_GET.format(ts=stamp(now)))
    scan(project)
    first = links(project)
    assert {k for _, _, k in first} == {"probe_window", "same_throw_site"} and len(first) == 6  # 2 probe pairs, 1 same-site pair, both ways
    found = listed(project)
    watched = (found["health"]["id"], found[GET_NONE]["id"], found[GET_KEY]["id"])
    linked_audits = {i: len(audits(show(project, i), "linked")) for i in watched}
    assert linked_audits == {watched[0]: 1, watched[1]: 2, watched[2]: 2}  # one per kind that linked
    # The same errors again, the probe still down: nothing new linked, nothing audited twice.
    with log.open("a") as f:
        f.write(NONE_IN_GET.format(ts=stamp(datetime.now(timezone.utc)), n=2) + KEY_IN_GET.format(ts=stamp(datetime.now(timezone.utc))))
    scan(project)
    scan(project)
    assert links(project) == first
    assert {i: len(audits(show(project, i), "linked")) for i in watched} == linked_audits
    again = show(project, watched[1])
    assert again["severity"] == "P1" and len(audits(again, "severity_raised")) == 1


def test_two_exceptions_thrown_in_one_function_are_one_root_cause_and_other_functions_are_not(project: Project) -> None:
    log = setup(project, None)
    log.write_text(
        NONE_IN_GET.format(ts="2026-11-21 10:00:01,000", n=1)
        + KEY_IN_GET.format(ts="2026-11-21 10:00:02,000")
        + NONE_IN_LIST.format(ts="2026-11-21 10:00:03,000")  # the first one's type and message, another function
    )
    scan(project)
    found = listed(project)
    assert set(found) == {GET_NONE, GET_KEY, LIST_NONE}
    a, b, other = found[GET_NONE], found[GET_KEY], found[LIST_NONE]
    assert a["title"] == other["title"] != b["title"]
    assert related(a, "same_throw_site") == {b["id"]} and related(b, "same_throw_site") == {a["id"]}
    assert other["related"] == []
    assert show(project, other["id"])["throw_site"] == "app/views.py in list_items"
    shown = show(project, a["id"])
    assert shown["throw_site"] == "app/views.py in get_item"
    assert [(r["id"], r["kind"], r["throw_site"]) for r in shown["related"]] == [(b["id"], "same_throw_site", "app/views.py in get_item")]
    assert audits(shown, "linked")[0]["details"] == {"kind": "same_throw_site", "related": [b["id"]]}
    assert "same root cause (app/views.py in get_item)" in project.cli("show", str(a["id"])).stdout
    row = next(line for line in project.cli("issues").stdout.splitlines() if "KeyError" in line)
    assert f"{a['id']} same cause" in row
    # No probe configured: no probe links, no severity moved.
    assert all(i["severity"] == "P2" for i in found.values())
    # A third exception of the same function, in a later scan, links to both.
    with log.open("a") as f:
        f.write('2026-11-21 10:01:00,000 ERROR app.views: bad id\nTraceback (most recent call last):\n'
                '  File "/app/app/views.py", line 2, in get_item\n    check(item_id)\nValueError: bad id\n')
    scan(project)
    found = listed(project)
    late = found["app/views.py:2"]
    assert related(late, "same_throw_site") == {a["id"], b["id"]}
    assert related(found[GET_KEY], "same_throw_site") == {a["id"], late["id"]}
    assert found[LIST_NONE]["related"] == []


def test_ignored_issues_are_not_raised(project: Project, health) -> None:
    url, handler = health
    log = setup(project, url)
    handler.status = 200
    log.write_text(KEY_IN_GET.format(ts=stamp(datetime.now(timezone.utc))))
    scan(project)
    (issue,) = listed(project).values()
    assert project.cli("issues", "ignore", str(issue["id"]), "--reason", "known noise").exit_code == 0
    handler.status = 500
    with log.open("a") as f:
        f.write(KEY_IN_GET.format(ts=stamp(datetime.now(timezone.utc))))
    scan(project)
    shown = show(project, issue["id"])
    assert shown["status"] == "ignored" and shown["severity"] == "P2" and not audits(shown, "severity_raised")
