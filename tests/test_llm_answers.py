"""Answers from the Messages API are untrusted: malformed bodies and absurd usage, through `agent diagnose`.

The real SDK talks to a local server (tests/fake_anthropic.py) that sends exactly
the bytes a test scripts; the state file is real SQLite, read back directly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agent_cli.llm import MAX_TOKENS_PER_CALL, SQLITE_INT_MAX, clamp_tokens, cost_usd
from tests.conftest import Project
from tests.fake_anthropic import FakeAnthropic, error_reply, message_reply, raw_reply, tool_reply

KEY = {"ANTHROPIC_API_KEY": "test-key"}
LOG = (
    "2026-11-21 10:00:01,000 ERROR app: request failed\nTraceback (most recent call last):\n"
    '  File "/app/app.py", line 2, in handler\n    return {\'ok\': True}\n'
    "KeyError: 'ok'\n"
)
DIAGNOSIS = {"root_cause": "handler reads a missing key", "affected_files": ["app.py"], "fix_strategy": "guard the key",
             "confidence": 0.8, "requires_human_approval": False, "estimated_fix_minutes": 5}
GOOD = tool_reply("report_diagnosis", DIAGNOSIS)[1]


@dataclass
class Setup:
    project: Project
    api: FakeAnthropic
    issue: int

    def diagnose(self, *args: str):
        return self.project.cli(*args, "diagnose", str(self.issue), env=KEY)

    def calls(self) -> list[tuple]:
        with sqlite3.connect(self.project.state) as conn:
            return conn.execute("SELECT input_tokens, output_tokens, cost_usd, outcome, typeof(input_tokens), typeof(output_tokens) "
                                "FROM llm_calls ORDER BY id").fetchall()

    def audit(self) -> list[tuple]:
        with sqlite3.connect(self.project.state) as conn:
            return conn.execute("SELECT step, decision, reason, details FROM audit WHERE issue_id = ? ORDER BY id", [self.issue]).fetchall()

    def status(self) -> str:
        return self.project.cli("--json", "show", str(self.issue)).json()["status"]


@pytest.fixture
def setup(project: Project) -> Iterator[Setup]:
    (project.root / "logs").mkdir()
    (project.root / "logs" / "app.log").write_text(LOG)
    with FakeAnthropic() as api:
        project.config.write_text(
            '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
            f'[llm]\nbase_url = "{api.base_url}"\nmax_retries = 2\n'
        )
        scan = project.cli("--json", "scan")
        assert scan.exit_code == 0, scan.stderr
        yield Setup(project, api, scan.json()["new_issues"][0]["id"])


MALFORMED = {
    "html-200": raw_reply("<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"),
    "html-200-labelled-json": raw_reply("<html><body>oops</body></html>"),
    "message-as-text-plain": raw_reply(json.dumps(GOOD), content_type="text/plain"),  # the SDK would hand back a str
    "error-object-200": error_reply(200, "overloaded_error", "Overloaded"),
    "truncated-json": raw_reply(json.dumps(GOOD)[:90]),
    "empty-body": raw_reply(b""),
    "json-array": raw_reply("[1, 2, 3]"),
    "json-string": raw_reply('"a diagnosis"'),
    "missing-content": message_reply(content=None),
    "content-not-a-list": message_reply(content="root cause: none"),
    "tool-use-without-input": message_reply(content=[{"type": "tool_use", "name": "report_diagnosis"}]),
    "block-not-an-object": message_reply(content=[5, None]),
    "usage-1e999": raw_reply(json.dumps(GOOD).replace('"input_tokens": 1000', '"input_tokens": 1e999').encode()),
    "usage-nan": raw_reply(json.dumps(GOOD).replace('"output_tokens": 200', '"output_tokens": NaN').encode()),
    "usage-2**70": message_reply(usage={"input_tokens": 2**70, "output_tokens": 200}),
    "usage-minus-2**70": message_reply(usage={"input_tokens": 10, "output_tokens": -(2**70)}),
}


@pytest.mark.parametrize("reply", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_answer_is_an_audited_error_not_a_traceback(setup: Setup, reply) -> None:
    setup.api.script.append(reply)
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS))  # never asked for: not retried
    result = setup.diagnose()
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"agent: error: issue {setup.issue}: LLM call failed after 1 attempt(s): malformed response (")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(setup.api.requests) == 1

    (call,) = setup.calls()
    tokens_in, tokens_out, cost, outcome, type_in, type_out = call
    assert outcome.startswith("error: malformed response"), outcome
    assert (type_in, type_out) == ("integer", "integer")
    assert 0 <= tokens_in <= MAX_TOKENS_PER_CALL and 0 <= tokens_out <= MAX_TOKENS_PER_CALL and cost >= 0

    steps = [(step, decision) for step, decision, _, _ in setup.audit()]
    assert ("diagnose", "llm-error") in steps and steps[-1] == ("diagnose", "failed")
    (_, _, reason, details) = next(a for a in setup.audit() if a[1] == "llm-error")
    assert reason.startswith("malformed LLM answer (") and json.loads(details)["retryable"] is False

    assert setup.status() == "detected"
    assert setup.project.cli("audit", "verify").exit_code == 0


def test_a_failure_inside_the_caller_is_a_step_failure_not_a_traceback(setup: Setup) -> None:
    with sqlite3.connect(setup.project.state) as conn:  # the state file refuses to record the call
        conn.execute("CREATE TRIGGER no_calls BEFORE INSERT ON llm_calls BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS))
    result = setup.diagnose()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"agent: error: issue {setup.issue}: LLM call failed: IntegrityError: disk says no"]
    assert setup.audit()[-1][:2] == ("diagnose", "failed")
    assert setup.status() == "detected"


def test_unreadable_body_is_charged_as_the_most_the_request_could_cost(setup: Setup) -> None:
    setup.api.script.append(raw_reply("<html>gateway</html>", content_type="text/html"))
    assert setup.diagnose().exit_code == 1
    sent = len(setup.api.raw_bodies[0])
    ((tokens_in, tokens_out, cost, outcome, *_),) = setup.calls()
    assert tokens_out == 4096 and tokens_in >= sent // 2  # max_tokens, and about a token per request character
    assert cost == pytest.approx(cost_usd("claude-sonnet-5-5", tokens_in, tokens_out)) and cost > 0
    assert "usage clamped: input_tokens=missing" in outcome


def test_negative_usage_is_recorded_as_zero_and_flagged(setup: Setup) -> None:
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS, input_tokens=-5, output_tokens=-1_000_000))
    result = setup.diagnose("--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["diagnosed"][0]["cost_usd"] == 0
    ((tokens_in, tokens_out, cost, outcome, *_),) = setup.calls()
    assert (tokens_in, tokens_out) == (0, 0) and cost == 0.0
    assert outcome == "ok (usage clamped: input_tokens=-5 -> 0, output_tokens=-1000000 -> 0)"
    assert setup.status() == "diagnosed"


def test_one_negative_field_never_offsets_the_other(setup: Setup) -> None:
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS, input_tokens=-10**9, output_tokens=200))
    assert setup.diagnose().exit_code == 0
    ((tokens_in, tokens_out, cost, outcome, *_),) = setup.calls()
    assert (tokens_in, tokens_out) == (0, 200) and cost == pytest.approx(200 * 10 / 1e6)
    assert outcome.startswith("ok (usage clamped: input_tokens=-1000000000 -> 0")


def test_huge_usage_is_clamped_stored_and_still_counts_against_the_budget(setup: Setup) -> None:
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS, input_tokens=50_000_000, output_tokens=1e308))
    assert setup.diagnose().exit_code == 0
    ((tokens_in, tokens_out, cost, outcome, type_in, type_out),) = setup.calls()
    assert (tokens_in, tokens_out) == (MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_CALL) and (type_in, type_out) == ("integer", "integer")
    assert cost == pytest.approx(MAX_TOKENS_PER_CALL * (2 + 10) / 1e6)
    assert outcome == f"ok (usage clamped: input_tokens=50000000 -> {MAX_TOKENS_PER_CALL}, output_tokens=1e+308 -> {MAX_TOKENS_PER_CALL})"
    # The clamped spend is real spend: the next call for this issue is over its budget and never made.
    setup.api.script.append(tool_reply("report_diagnosis", DIAGNOSIS))
    again = setup.diagnose("--json")
    assert len(setup.api.requests) == 1
    # [llm] on_failure = "offline" (the default): the issue is diagnosed offline, the budget named as the reason.
    (d,) = again.json()["diagnosed"]
    assert again.exit_code == 0 and d["provider"] == "offline" and "llm.max_cost_per_issue_usd" in d["provider_note"]


def test_non_integer_usage_is_rounded_up_or_counted_at_the_request_bound(setup: Setup) -> None:
    setup.api.script.append(message_reply(content=GOOD["content"], usage={"input_tokens": "12", "output_tokens": 3.5}))
    assert setup.diagnose().exit_code == 0
    ((tokens_in, tokens_out, cost, outcome, *_),) = setup.calls()
    assert tokens_out == 4 and tokens_in >= len(setup.api.raw_bodies[0]) // 2
    assert outcome.startswith("ok (usage clamped: input_tokens='12' -> ") and "output_tokens=3.5 -> 4" in outcome


@pytest.mark.parametrize(("raw", "tokens", "flagged", "storable"), [
    (0, 0, False, True),
    (1234, 1234, False, True),
    (MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_CALL, False, True),
    (MAX_TOKENS_PER_CALL + 1, MAX_TOKENS_PER_CALL, True, True),
    (-5, 0, True, True),
    (SQLITE_INT_MAX, MAX_TOKENS_PER_CALL, True, True),
    (SQLITE_INT_MAX + 1, MAX_TOKENS_PER_CALL, True, False),
    (-(2**70), 0, True, False),
    (2.0, 2, True, True),
    (0.1, 1, True, True),
    (-0.5, 0, True, True),
    (1e308, MAX_TOKENS_PER_CALL, True, True),
    (float("inf"), MAX_TOKENS_PER_CALL, True, False),
    (float("-inf"), 0, True, False),
    (float("nan"), 777, True, False),
    (None, 777, True, True),
    ("12", 777, True, True),
    (True, 777, True, True),
    ([1], 777, True, True),
])
def test_clamp_tokens_table(raw, tokens, flagged, storable) -> None:
    value, flag, ok = clamp_tokens("input_tokens", raw, unknown=777)
    assert (value, flag is not None, ok) == (tokens, flagged, storable)
    assert type(value) is int
    if flag:
        assert flag.startswith("input_tokens=") and "\n" not in flag and len(flag) < 80


def test_cost_is_never_negative() -> None:
    assert cost_usd("claude-sonnet-5-5", -10**9, -10**9) == 0.0
    assert cost_usd("claude-sonnet-5-5", -10**9, 100) == pytest.approx(100 * 10 / 1e6)
