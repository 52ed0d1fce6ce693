"""Severity: busy 5xx on any path, Flask/Django request lines, api_prefixes, 4xx access lines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent_cli.config import SeverityRule, SeveritySection
from agent_cli.detect import severity as sev
from agent_cli.detect.events import parse_block
from tests.conftest import Project

FLASK_500 = """[2026-11-21 10:00:{s:02d},000] ERROR in app: Exception on {path} [GET]
Traceback (most recent call last):
  File "/venv/lib/python3.12/site-packages/flask/app.py", line 1473, in wsgi_app
    response = self.full_dispatch_request()
  File "/app/app/views.py", line 12, in page
    return render(current_site().name)
AttributeError: 'NoneType' object has no attribute 'name'
"""
FLASK_PATHS = ["/", "/about", "/items/1", "/items/2", "/cart", "/login", "/items/3", "/search", "/help", "/items/4", "/blog", "/items/5"]
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def event(text: str):
    return parse_block(text.rstrip("\n"), source="app")


def test_request_is_read_from_flask_and_django_framework_lines() -> None:
    assert sev.request_from_message("in app: Exception on /items/3 [POST]") == {"method": "POST", "path": "/items/3", "status": 500}
    assert sev.request_from_message("Internal Server Error: /shop/cart") == {"path": "/shop/cart", "status": 500}
    assert sev.request_from_message("Not Found: /favicon.ico") == {"path": "/favicon.ico", "status": 404}
    assert sev.request_from_message("item not found: 3") == {}
    flask = event(FLASK_500.format(s=1, path="/about"))
    assert flask.request == {} or flask.request.get("path") == "/about"  # the parser may adopt the helper later
    assert sev.request_of(flask) == {"method": "GET", "path": "/about", "status": 500}
    assert sev.is_5xx_api(flask)


def test_api_prefixes_narrow_the_busy_5xx_rule() -> None:
    flask = event(FLASK_500.format(s=1, path="/about"))
    api = event('2026-11-21 10:00:01,000 ERROR app.views: request failed "GET /api/items/3" status=500')
    assert sev.is_5xx_api(flask) and sev.is_5xx_api(api)
    assert not sev.is_5xx_api(flask, ["/api"]) and sev.is_5xx_api(api, ["/api"])
    assert sev.is_5xx_api(api, ["/v2", "/api/items"]) and not sev.is_5xx_api(api, ["/api/users"])
    ok = event('2026-11-21 10:00:01,000 WARNING app.http: "GET /api/items/3" 404 3ms')
    assert not sev.is_5xx_api(ok)


def test_many_distinct_paths_failing_with_5xx_reach_p1_with_the_rule_named() -> None:
    events = [event(FLASK_500.format(s=i, path=p)) for i, p in enumerate(FLASK_PATHS[:5])]
    times = [T0 + timedelta(seconds=i) for i in range(5)]
    assert sev.peak_paths_5min(events, times) == 5
    assert sev.peak_paths_5min(events, times, ["/api"]) == 0
    p2 = sev.classify(events[0], [])
    assert p2 == sev.Verdict("P2", "default:unhandled-exception")
    got = sev.escalate(p2, is_5xx_api=True, events_per_5min=5, users=0, paths_per_5min=5)
    assert got == sev.Verdict("P1", "default:busy-5xx-api (5 paths in 5 min)")
    # Four paths, or five spread over more than five minutes, are not busy.
    assert sev.escalate(p2, is_5xx_api=True, events_per_5min=4, users=0, paths_per_5min=4) == p2
    spread = [T0 + timedelta(minutes=2 * i) for i in range(5)]
    assert sev.peak_paths_5min(events, spread) == 3
    # The same path over and over counts once.
    same = [event(FLASK_500.format(s=i, path="/cart")) for i in range(8)]
    assert sev.peak_paths_5min(same, [T0 + timedelta(seconds=i) for i in range(8)]) == 1
    # Never lowers what a rule or the ladder already made worse.
    p0 = sev.Verdict("P0", "severity.rules[0]")
    assert sev.escalate(p0, is_5xx_api=True, events_per_5min=50, users=50, paths_per_5min=50) == p0


def test_site_wide_flask_500s_on_non_api_paths_reach_p1_through_scan(project: Project) -> None:
    logs = project.root / "logs"
    logs.mkdir()
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    (logs / "app.log").write_text("".join(FLASK_500.format(s=i, path=p) for i, p in enumerate(FLASK_PATHS)))
    result = project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    (issue,) = result.json()["new_issues"]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert shown["severity"] == "P1", shown["severity_rule"]
    assert shown["severity_rule"].startswith("default:busy-5xx-api (")


@pytest.mark.parametrize(
    "line",
    [
        '2026-11-21 10:00:01,000 WARNING app.http: "GET /missing" 404 3ms',
        '2026-11-21 10:00:01,000 ERROR app.http: "POST /api/items" status=400',
        '{"level":40,"time":1,"msg":"request completed","req":{"method":"GET","url":"/x?y=1"},"res":{"statusCode":404}}',
        "2026-11-21 10:00:01,000 WARNING django.request: Not Found: /favicon.ico",
    ],
)
def test_4xx_access_lines_are_not_issues(line: str) -> None:
    got = sev.not_an_issue(event(line), [])
    assert got is not None and got.startswith("default:client-error (HTTP 4")


def test_4xx_is_an_issue_when_a_rule_says_so_and_other_events_stay_issues() -> None:
    line = event('2026-11-21 10:00:01,000 WARNING app.http: "POST /login" 429 3ms')
    assert sev.not_an_issue(line, [SeverityRule(pattern=r"/login", severity="P2")]) is None
    assert sev.not_an_issue(line, [SeverityRule(pattern=r"/login", severity="P2", source="other")]) is not None
    assert sev.not_an_issue(event('2026-11-21 10:00:01,000 ERROR app: "GET /x" status=500'), []) is None
    assert sev.not_an_issue(event("2026-11-21 10:00:01,000 WARNING app: slow request"), []) is None
    assert sev.not_an_issue(event(FLASK_500.format(s=1, path="/x")), []) is None
    probe = event('2026-11-21 10:00:01,000 WARNING health: "GET /health" 404')
    probe.kind = "probe"
    assert sev.not_an_issue(probe, []) is None


def test_api_prefixes_config_key(tmp_path: Path) -> None:
    assert SeveritySection().api_prefixes == []
    assert SeveritySection(api_prefixes=["/api", "/v2/"]).api_prefixes == ["/api", "/v2/"]
    with pytest.raises(ValidationError, match="starts with '/'"):
        SeveritySection(api_prefixes=["api"])
    template = (Path(__file__).resolve().parent.parent / "agent_cli" / "config.example.toml").read_text()
    assert "[severity]\napi_prefixes = []" in template

# --- Needs the scan.py diff (sev.not_an_issue in _prepare; api_prefixes and paths_per_5min in _upsert_issue). ---

def _scan_log(project: Project, text: str, extra: str = "") -> dict:
    logs = project.root / "logs"
    logs.mkdir(exist_ok=True)
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n' + extra)
    (logs / "app.log").write_text(text)
    result = project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_404_access_lines_raise_nothing_through_scan(project: Project) -> None:
    text = "".join(f'2026-11-21 10:00:{i:02d},000 WARNING app.http: "GET /missing/{i}" 404 3ms\n' for i in range(20))
    got = _scan_log(project, text + "2026-11-21 10:00:30,000 WARNING django.request: Not Found: /favicon.ico\n")
    assert got["events"] == 0 and got["new_issues"] == []
    assert project.cli("--json", "issues").json()["issues"] == []


def test_a_rule_makes_a_4xx_line_an_issue_through_scan(project: Project) -> None:
    got = _scan_log(project, '2026-11-21 10:00:01,000 WARNING app.http: "POST /login" 429 3ms\n',
                    '[[severity.rules]]\npattern = "/login"\nseverity = "P2"\n')
    assert [i["severity"] for i in got["new_issues"]] == ["P2"]


def test_five_distinct_paths_failing_reach_p1_through_scan(project: Project) -> None:
    got = _scan_log(project, "".join(FLASK_500.format(s=i, path=p) for i, p in enumerate(FLASK_PATHS[:5])))
    (issue,) = got["new_issues"]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert (shown["severity"], shown["severity_rule"]) == ("P1", "default:busy-5xx-api (5 paths in 5 min)")
    assert sorted(shown["request_paths"]) == sorted(FLASK_PATHS[:5])


def test_api_prefixes_narrow_busy_5xx_through_scan(project: Project) -> None:
    got = _scan_log(project, "".join(FLASK_500.format(s=i, path=p) for i, p in enumerate(FLASK_PATHS)),
                    '[severity]\napi_prefixes = ["/api"]\n')
    (issue,) = got["new_issues"]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert (shown["severity"], shown["severity_rule"]) == ("P2", "default:unhandled-exception")
