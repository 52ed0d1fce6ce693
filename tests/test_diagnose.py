"""`agent diagnose` on real git repositories, offline and against a local Messages-API server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Project, git
from tests.fake_anthropic import FakeAnthropic, error_reply, tool_reply
from tests.sample_app import OLD_COMMIT_DATE, VIEWS_BAD, VIEWS_GOOD

VIEWS_V1, VIEWS_V2 = VIEWS_GOOD, VIEWS_BAD
VIEWS_V3 = VIEWS_V2 + '''

def health():
    return {"ok": True}, 200
'''
TRACE = """2026-11-21 10:00:01,000 ERROR app.views: request failed user_id=7 "GET /api/items/9" status=500 password=hunter2-secret-value
Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request
    rv = self.dispatch_request()
  File "/app/app/views.py", line 6, in get_item
    return {{"name": item.name}}, 200
AttributeError: 'NoneType' object has no attribute 'name' (token {key})
"""
PLANTED_KEY = "sk-ant-api03-" + "Q" * 40


@pytest.fixture
def app_repo(project: Project) -> dict[str, str]:
    """A bug introduced two commits back: c2 removed the None guard; c3 and c4 came after."""
    root = project.root
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "repo.py").write_text("def find(item_id):\n    return None\n")
    (root / "app" / "views.py").write_text(VIEWS_V1)
    git(root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", "add item view"], cwd=root, check=True, env={**os.environ, **OLD_COMMIT_DATE})
    (root / "app" / "views.py").write_text(VIEWS_V2)
    git(root, "commit", "-q", "-am", "simplify get_item")
    c2 = git(root, "rev-parse", "HEAD")
    (root / "app" / "views.py").write_text(VIEWS_V3)
    git(root, "commit", "-q", "-am", "add health view")
    (root / "README.md").write_text("app\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "docs")
    (root / "logs").mkdir()
    (root / "logs" / "app.log").write_text(TRACE.format(key=PLANTED_KEY))
    return {"bad_commit": c2}


def configure(project: Project, llm: str = "") -> None:
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n' + llm)


def scanned(project: Project, llm: str = "") -> int:
    configure(project, llm)
    data = project.cli("--json", "scan").json()
    assert data["events"] == 1
    return data["new_issues"][0]["id"]


def write_trace(root: Path, *, frame_file: str, line: int, function: str, code: str, error: str) -> None:
    """A log with one error record and a one-frame Python traceback."""
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / "app.log").write_text(
        f"2026-11-21 10:00:01,000 ERROR app: request failed\nTraceback (most recent call last):\n"
        f'  File "{frame_file}", line {line}, in {function}\n    {code}\n{error}\n'
    )


def good_diagnosis(**overrides) -> dict:
    answer = {"root_cause": "get_item dereferences find()'s None result at app/views.py:6",
              "affected_files": ["app/views.py"], "fix_strategy": "restore the None guard returning 404",
              "confidence": 0.8, "requires_human_approval": False, "estimated_fix_minutes": 10}
    return {**answer, **overrides}


def test_offline_diagnosis_finds_culprit_and_suspect_commit_through_blame(project: Project, app_repo: dict) -> None:
    issue = scanned(project)
    result = project.cli("--json", "diagnose")
    assert result.exit_code == 0, result.stderr
    (d,) = result.json()["diagnosed"]
    # /app/ deploy prefix mapped; the site-packages frame is never the culprit.
    assert d["culprit"] == {"path": "app/views.py", "line": 6, "function": "get_item", "code": 'return {"name": item.name}, 200'}
    assert d["suspect_commit"]["sha"] == app_repo["bad_commit"]
    # Blame alone names the old commit (the failing line is unchanged); the function's history names the guard's removal.
    assert d["suspect_commit"]["changed_culprit_function"] is True and d["suspect_commit"]["subject"] == "simplify get_item"
    assert d["provider"] == "offline" and "None" in d["root_cause"]
    assert d["fix_strategy"].startswith(f"revert {app_repo['bad_commit'][:12]}")
    assert 0 < d["confidence"] <= 0.95
    shown = project.cli("--json", "show", str(issue)).json()
    assert shown["status"] == "diagnosed" and shown["diagnoses"][0]["culprit"]["path"] == "app/views.py"
    text = project.cli("show", str(issue)).stdout
    assert "app/views.py:6: return" in text and app_repo["bad_commit"][:12] in text
    assert project.cli("--json", "diagnose").json()["diagnosed"] == []  # nothing left to do


def test_anthropic_tool_answer_is_stored_with_its_cost(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\n')
        api.script.append(tool_reply("report_diagnosis", good_diagnosis()))
        result = project.cli("--json", "diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    (d,) = result.json()["diagnosed"]
    assert d["provider"] == "anthropic" and d["provider_confidence"] == 0.8 and d["confidence"] == 0.8
    request = api.requests[0]
    # Today's default model refuses a forced tool: offered, asked for in the system prompt, thinking at its lowest.
    assert request["tool_choice"] == {"type": "auto"} and "calling the report_diagnosis tool" in request["system"]
    assert request["thinking"] == {"type": "between_tools"} and request["output_config"] == {"effort": "low"}
    assert request["tools"][0]["name"] == "report_diagnosis" and request["model"] == "claude-sonnet-5-5"
    assert "<<<DATA" in request["messages"][0]["content"] and "untrusted" in request["system"]
    calls = sqlite3.connect(project.state).execute("SELECT model, input_tokens, output_tokens, cost_usd, outcome FROM llm_calls").fetchall()
    assert calls == [("claude-sonnet-5-5", 1000, 200, pytest.approx((1000 * 2 + 200 * 10) / 1e6), "ok")]
    assert d["cost_usd"] == pytest.approx(0.004)


def test_invalid_answer_is_retried_once_with_the_validation_error(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\n')
        api.script.extend([
            tool_reply("report_diagnosis", good_diagnosis(confidence=7, affected_files="app/views.py")),
            tool_reply("report_diagnosis", good_diagnosis()),
        ])
        result = project.cli("--json", "diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    assert len(api.requests) == 2
    feedback = api.requests[1]["messages"][-1]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] is True
    assert "confidence" in feedback["content"] and "affected_files" in feedback["content"]


def test_two_invalid_answers_fail_the_step_and_keep_the_issue(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\n')
        api.script.extend([tool_reply("report_diagnosis", {"root_cause": "x"})] * 2)
        result = project.cli("diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 1
    assert "not a valid report_diagnosis" in result.stderr and "Traceback" not in result.stderr
    assert project.cli("--json", "show", str(issue)).json()["status"] == "detected"


def test_overloaded_529_is_retried(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\n')
        api.script.extend([error_reply(529, "overloaded_error", "Overloaded"), tool_reply("report_diagnosis", good_diagnosis())])
        result = project.cli("--json", "diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    assert len(api.requests) == 2
    outcomes = [r[0] for r in sqlite3.connect(project.state).execute("SELECT outcome FROM llm_calls ORDER BY id")]
    assert outcomes[0].startswith("error: OverloadedError 529") or "529" in outcomes[0]
    assert outcomes[1] == "ok"


def test_timeouts_exhaust_retries_exit_1_with_state_and_audit_intact(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\ntimeout_s = 0.3\nmax_retries = 2\non_failure = "fail"\n')
        api.script.extend([3, 3, 3])
        result = project.cli("diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "after 3 attempt(s)" in line and "Timeout" in line
    assert len(api.requests) == 3
    shown = project.cli("--json", "show", str(issue)).json()
    assert shown["status"] == "detected" and shown["diagnoses"] == []
    failure = [a for a in shown["audit"] if a["step"] == "diagnose"][-1]
    assert failure["decision"] == "failed" and "Timeout" in failure["reason"]
    assert project.cli("audit", "verify").exit_code == 0


def test_prompt_never_contains_the_planted_secrets(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\n')
        api.script.append(tool_reply("report_diagnosis", good_diagnosis()))
        assert project.cli("diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"}).exit_code == 0
    sent = b"".join(api.raw_bodies).decode()
    assert PLANTED_KEY not in sent and "hunter2-secret-value" not in sent
    assert "[REDACTED:anthropic-key]" in sent and "[REDACTED:secret]" in sent
    assert "item.name" in sent  # the code itself still goes


def test_budget_exceeded_stops_the_call(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        issue = scanned(project, f'[llm]\nbase_url = "{api.base_url}"\nmax_cost_per_issue_usd = 0.001\non_failure = "fail"\n')
        api.script.append(tool_reply("report_diagnosis", good_diagnosis()))
        result = project.cli("diagnose", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 3
    assert api.requests == []
    assert "llm.max_cost_per_issue_usd" in result.stderr
    shown = project.cli("--json", "show", str(issue)).json()
    assert shown["status"] == "needs_human" and "budget" in shown["status_reason"]


def test_daily_budget_counts_spend_across_issues(project: Project, app_repo: dict) -> None:
    with FakeAnthropic() as api:
        scanned(project, f'[llm]\nbase_url = "{api.base_url}"\nmax_tokens = 100\nmax_cost_per_day_usd = 0.01\non_failure = "fail"\n')
        conn = sqlite3.connect(project.state)
        conn.execute("INSERT INTO llm_calls(ts, issue_id, step, model, cost_usd, outcome) VALUES (strftime('%Y-%m-%dT%H:%M:%f+00:00','now'), 99, 'diagnose', 'm', 0.0099, 'ok')")
        conn.commit()
        result = project.cli("--json", "diagnose", env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0  # the cron form: a refusal is a decision, not a failure
    assert result.json()["refused"][0]["rule"] == "llm.max_cost_per_day_usd"
    assert api.requests == []


def test_provider_anthropic_without_key_is_a_config_error(project: Project, app_repo: dict) -> None:
    scanned(project, '[llm]\nprovider = "anthropic"\n')
    result = project.cli("diagnose")
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.stderr


def test_security_sensitive_culprit_lowers_confidence(project: Project) -> None:
    root = project.root
    (root / "app" / "auth").mkdir(parents=True)
    (root / "app" / "auth" / "login.py").write_text("def login(user):\n    return user.name\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "login")
    write_trace(root, frame_file="/app/app/auth/login.py", line=2, function="login", code="return user.name",
                error="AttributeError: 'NoneType' object has no attribute 'name'")
    scanned(project)
    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert any(a["delta"] == -0.2 and "security-sensitive" in a["reason"] for a in d["adjustments"])
    assert d["confidence"] == pytest.approx(d["provider_confidence"] - 0.2)


def test_unknown_issue_is_a_usage_error(project: Project) -> None:
    result = project.cli("diagnose", "42")
    assert result.exit_code == 2 and "no issue 42" in result.stderr


def test_blame_names_the_commit_that_changed_the_failing_line(project: Project) -> None:
    root = project.root
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "views.py").write_text("def title_of(item):\n    label = item.title\n    return label\n")
    git(root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", "add title_of"], cwd=root, check=True, env={**os.environ, **OLD_COMMIT_DATE})
    (root / "app" / "views.py").write_text("def title_of(item):\n    label = item.name\n    return label\n")
    git(root, "commit", "-q", "-am", "use name instead of title")
    bad = git(root, "rev-parse", "HEAD")
    for n in (1, 2):
        (root / f"notes{n}.md").write_text(f"{n}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"notes {n}")
    write_trace(root, frame_file="/var/task/app/views.py", line=2, function="title_of", code="label = item.name",
                error="AttributeError: 'Item' object has no attribute 'name'")
    scanned(project)
    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert d["culprit"]["path"] == "app/views.py"  # /var/task/ prefix stripped
    assert d["suspect_commit"]["sha"] == bad and d["suspect_commit"]["touched_culprit_line"] is True
