"""Notifications against real HTTP servers on 127.0.0.1: payloads, retries, timeouts, dedupe, redaction, apprise, config."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_cli import notify as notify_mod
from agent_cli.config import Settings, load_settings
from agent_cli.errors import ConfigError
from agent_cli.notify import EVENTS, notify, should_notify_detected
from agent_cli.retry import RetryOn, retrying
from agent_cli.state import State
from tests.secret_shapes import SHAPES

ISSUE = {"id": 7, "title": "TypeError in checkout", "severity": "P1", "status": "staging"}


class Server:
    """A local HTTP server that records every POST and answers from a per-path plan.

    A plan is a list of actions, used in turn (the last one repeats): an int status, or a float
    number of seconds to sleep before answering 200.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.plans: dict[str, list[int | float]] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                with recorder.lock:
                    recorder.requests.append((path, dict(self.headers), body))
                    plan = recorder.plans.get(path, [200])
                    action = plan.pop(0) if len(plan) > 1 else plan[0]
                status = 200
                if isinstance(action, float):
                    time.sleep(action)
                else:
                    status = action
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(b) for p, _, b in self.requests if p == path]

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_mod, "RETRY_WAIT_INITIAL_S", 0.01)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    s = State.open(tmp_path / "state.db")
    yield s
    s.close()


def settings(**notify: Any) -> Settings:
    return Settings(notify={"timeout_s": 2, "max_retries": 2, **notify})


def all_four(server: Server, **more: Any) -> Settings:
    return settings(
        slack_webhook_url=server.url("/slack"),
        discord_webhook_url=server.url("/discord"),
        google_chat_webhook_url=server.url("/chat"),
        webhook_url=server.url("/hook"),
        **more,
    )


def rows(state: State, sql: str) -> list[dict[str, Any]]:
    return state.rows(sql)


# ---- payloads -----------------------------------------------------------------------------------


def test_each_channel_receives_its_payload(server: Server, state: State) -> None:
    results = notify(state, all_four(server), "deployed", title="Fix for #7 deployed to staging", message="Guard added for a missing coupon.",
                     issue=ISSUE, links={"diff": "http://127.0.0.1/diff/7"}, run_id="r1")
    assert [r["channel"] for r in results] == ["slack", "discord", "google_chat", "webhook"]
    assert all(r == {"channel": r["channel"], "ok": True, "status": 200, "error": None, "skipped": False} for r in results), results

    (slack,) = server.bodies("/slack")
    assert "Fix for #7 deployed to staging" in slack["text"] and "Guard added" in slack["text"]
    assert "<http://127.0.0.1/diff/7|diff>" in slack["text"]
    assert slack["blocks"][0]["text"]["type"] == "mrkdwn"
    (discord,) = server.bodies("/discord")
    assert "Fix for #7 deployed" in discord["content"] and discord["allowed_mentions"] == {"parse": []}
    (chat,) = server.bodies("/chat")
    assert set(chat) == {"text"} and "Issue #7 (P1, staging): TypeError in checkout" in chat["text"]
    (hook,) = server.bodies("/hook")
    assert set(hook) == {"event", "issue", "severity", "title", "message", "links", "sent_at"}
    assert hook["event"] == "deployed" and hook["severity"] == "P1"
    assert hook["issue"] == {"id": 7, "title": "TypeError in checkout", "severity": "P1", "status": "staging"}
    assert hook["title"] == "Fix for #7 deployed to staging" and hook["links"] == {"diff": "http://127.0.0.1/diff/7"}
    assert all(h.get("Content-Type") == "application/json" for _, h, _ in server.requests)

    (row,) = rows(state, "SELECT * FROM notifications")
    assert row["event"] == "deployed" and row["issue_id"] == 7 and row["dedupe_key"] == "deployed:7" and row["ok"] == 1 and row["error"] is None
    assert row["run_id"] == "r1" and len(json.loads(row["results"])) == 4
    (audit,) = rows(state, "SELECT * FROM audit WHERE step = 'notify'")
    assert audit["decision"] == "notified" and audit["issue_id"] == 7


def test_discord_content_is_cut_to_its_limit_and_mentions_are_inert(server: Server, state: State) -> None:
    links = {f"link{i}": "http://127.0.0.1/" + "x" * 600 for i in range(12)}
    notify(state, settings(discord_webhook_url=server.url("/discord"), slack_webhook_url=server.url("/slack"), google_chat_webhook_url=server.url("/chat")),
           "failed", title="@everyone <!channel> <users/all> " + "t" * 500, message="m" * 5000, issue={**ISSUE, "title": "i" * 900}, links=links)
    (discord,) = server.bodies("/discord")
    assert len(discord["content"]) <= 2000 and discord["allowed_mentions"] == {"parse": []}
    (slack,) = server.bodies("/slack")
    assert "<!channel>" not in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    (chat,) = server.bodies("/chat")
    assert "<users/all>" not in chat["text"]
    # Title and message are cut to a sane length on every channel.
    assert "t" * 200 not in slack["text"] and "m" * 1500 not in slack["text"] and "m" * 1000 in slack["text"]


# ---- retries, timeouts, failures ----------------------------------------------------------------


def test_a_500_then_200_is_retried_to_success(server: Server, state: State) -> None:
    server.plans["/hook"] = [500, 200]
    (result,) = notify(state, settings(webhook_url=server.url("/hook")), "needs_human", title="t", message="m", issue=ISSUE)
    assert result["ok"] and result["status"] == 200 and server.count("/hook") == 2
    assert rows(state, "SELECT ok FROM notifications") == [{"ok": 1}]


def test_a_429_is_retried_and_a_404_is_not(server: Server, state: State) -> None:
    server.plans["/slack"] = [429, 200]
    server.plans["/hook"] = [404]
    results = notify(state, settings(slack_webhook_url=server.url("/slack"), webhook_url=server.url("/hook")), "failed", title="t", message="m", issue=ISSUE)
    assert results[0]["ok"] and server.count("/slack") == 2
    assert not results[1]["ok"] and results[1]["status"] == 404 and server.count("/hook") == 1


def test_a_server_that_times_out_is_a_recorded_failure_not_an_exception(server: Server, state: State) -> None:
    server.plans["/hook"] = [1.5]
    (result,) = notify(state, settings(webhook_url=server.url("/hook"), timeout_s=0.2, max_retries=1), "rolled_back", title="t", message="m", issue=ISSUE)
    assert result["ok"] is False and result["skipped"] is False and "timed out" in result["error"]
    assert server.count("/hook") == 2  # the timeout was tried again, once
    (row,) = rows(state, "SELECT * FROM notifications")
    assert row["ok"] == 0 and "timed out" in row["error"]
    (audit,) = rows(state, "SELECT * FROM audit WHERE step = 'notify'")
    assert audit["decision"] == "notify-failed" and "webhook" in audit["reason"]


def test_a_server_that_always_fails_is_recorded_and_audited(server: Server, state: State) -> None:
    server.plans["/hook"] = [500]
    (result,) = notify(state, settings(webhook_url=server.url("/hook"), max_retries=2), "agent_trouble", title="audit chain broken", message="m")
    assert result == {"channel": "webhook", "ok": False, "status": 500, "error": "HTTP 500", "skipped": False}
    assert server.count("/hook") == 3
    (row,) = rows(state, "SELECT * FROM notifications")
    assert row["ok"] == 0 and row["error"] == "webhook: HTTP 500" and row["issue_id"] is None
    (audit,) = rows(state, "SELECT * FROM audit WHERE step = 'notify'")
    assert audit["decision"] == "notify-failed" and "HTTP 500" in audit["reason"]


def test_an_unreachable_channel_fails_without_showing_its_url(state: State) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    token = "T0KENPARTofTheWebhookPath"
    (result,) = notify(state, settings(webhook_url=f"http://127.0.0.1:{port}/hooks/{token}", max_retries=1), "failed", title="t", message="m", issue=ISSUE)
    assert not result["ok"] and "connection failed" in result["error"]
    everything = json.dumps([result, rows(state, "SELECT * FROM notifications"), rows(state, "SELECT * FROM audit")])
    assert token not in everything


def test_an_error_naming_the_url_never_shows_it(state: State) -> None:
    # httpx does not name the URL in its errors, but a library's message may: it is taken out all the same.
    token = "T0KENPARTofTheWebhookPath"
    url = f"http://127.0.0.1:9/hooks/{token}?key={token}"
    assert token not in notify_mod._describe(RuntimeError(f"POST {url} failed; also {url.split('?')[0]}"), url)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (result,) = notify(state, settings(apprise_urls=f"json://127.0.0.1:{port}/hooks/{token}", max_retries=0), "failed", title="t", message="m")
    assert not result["ok"] and token not in json.dumps([result, rows(state, "SELECT * FROM notifications"), rows(state, "SELECT * FROM audit")])


def test_a_broken_state_does_not_raise(server: Server, state: State) -> None:
    state.db.execute("DROP TABLE notifications")
    results = notify(state, settings(webhook_url=server.url("/hook")), "failed", title="t", message="m", issue=ISSUE)
    assert results and not results[0]["ok"] and "notify:" in results[0]["error"]


def test_unknown_event_does_not_raise(server: Server, state: State) -> None:
    (result,) = notify(state, settings(webhook_url=server.url("/hook")), "exploded", title="t", message="m")
    assert not result["ok"] and "unknown event" in result["error"] and server.requests == []


# ---- dedupe, events, severities -----------------------------------------------------------------


def test_the_same_event_for_the_same_issue_is_sent_once(server: Server, state: State) -> None:
    s = settings(webhook_url=server.url("/hook"), slack_webhook_url=server.url("/slack"))
    first = notify(state, s, "approval_needed", title="t", message="m", issue=ISSUE)
    second = notify(state, s, "approval_needed", title="t again", message="m", issue=ISSUE)
    assert all(r["ok"] and not r["skipped"] for r in first)
    assert all(r["ok"] and r["skipped"] for r in second) and [r["channel"] for r in second] == ["slack", "webhook"]
    assert server.count("/hook") == 1 and server.count("/slack") == 1
    assert len(rows(state, "SELECT * FROM notifications")) == 1
    # Another issue, or another key for the same issue, is another notification.
    notify(state, s, "approval_needed", title="t", message="m", issue={**ISSUE, "id": 8})
    notify(state, s, "approval_needed", title="t", message="m", issue=ISSUE, dedupe_key="approval_needed:7:production")
    assert server.count("/hook") == 3


def test_a_failed_channel_is_tried_again_on_the_next_call_and_only_it(server: Server, state: State) -> None:
    server.plans["/hook"] = [500, 500, 500, 200]
    s = settings(webhook_url=server.url("/hook"), slack_webhook_url=server.url("/slack"))
    first = notify(state, s, "failed", title="t", message="m", issue=ISSUE)
    assert first[0]["ok"] and not first[1]["ok"]
    second = notify(state, s, "failed", title="t", message="m", issue=ISSUE)
    assert second[0]["skipped"] and second[1]["ok"] and not second[1]["skipped"]
    assert server.count("/slack") == 1 and server.count("/hook") == 4
    (row,) = rows(state, "SELECT * FROM notifications")
    assert row["ok"] == 1 and row["error"] is None
    third = notify(state, s, "failed", title="t", message="m", issue=ISSUE)
    assert all(r["skipped"] for r in third) and server.count("/hook") == 4


def test_no_channel_configured_sends_and_records_nothing(state: State) -> None:
    assert notify(state, Settings(), "failed", title="t", message="m", issue=ISSUE) == []
    assert rows(state, "SELECT * FROM notifications") == [] and rows(state, "SELECT * FROM audit") == []


def test_detected_severities_and_events_filter(server: Server, state: State) -> None:
    s = settings(webhook_url=server.url("/hook"))
    assert should_notify_detected(s, "P0") and should_notify_detected(s, "P1") and not should_notify_detected(s, "P2")
    (skipped,) = notify(state, s, "issue_detected", title="t", message="m", issue={**ISSUE, "severity": "P3"})
    assert skipped["skipped"] and not skipped["ok"] and "detected_severities" in skipped["error"]
    (sent,) = notify(state, s, "issue_detected", title="t", message="m", issue={**ISSUE, "severity": "P0"})
    assert sent["ok"] and server.count("/hook") == 1

    only = settings(webhook_url=server.url("/hook"), events=["rolled_back"], detected_severities=["P3"])
    assert should_notify_detected(only, "P3") is False  # the event itself is off
    (off,) = notify(state, only, "deployed", title="t", message="m", issue=ISSUE)
    assert off["skipped"] and "events" in off["error"] and server.count("/hook") == 1
    assert rows(state, "SELECT COUNT(*) AS n FROM notifications") == [{"n": 1}]


# ---- redaction ----------------------------------------------------------------------------------


def test_no_secret_reaches_the_server(server: Server, state: State) -> None:
    s = settings(webhook_url=server.url("/hook"), slack_webhook_url=server.url("/slack"), apprise_urls=f"json://127.0.0.1:{server.port}/apprise")
    for n, (kind, line, secret) in enumerate(SHAPES):
        results = notify(state, s, "failed", title=f"Fix failed: {line}", message=f"Validation said:\n{line}\nend",
                         issue={**ISSUE, "id": 100 + n, "title": line}, links={"log": f"http://127.0.0.1/x?{line}"})
        assert all(r["ok"] for r in results), (kind, results)
    assert len(server.requests) == 3 * len(SHAPES)
    received = b"".join(body for _, _, body in server.requests).decode()
    stored = json.dumps([rows(state, "SELECT * FROM notifications"), rows(state, "SELECT * FROM audit")])
    for kind, _, secret in SHAPES:
        assert secret not in received, kind
        assert secret not in stored, kind
    assert "[REDACTED" in received


# ---- apprise ------------------------------------------------------------------------------------


def test_apprise_sends_through_its_json_scheme(server: Server, state: State) -> None:
    s = settings(apprise_urls=f"json://127.0.0.1:{server.port}/one, json://127.0.0.1:{server.port}/two")
    results = notify(state, s, "rolled_back", title="Rolled back #7", message="Error rate doubled.", issue=ISSUE)
    assert [r["channel"] for r in results] == ["apprise:json", "apprise:json#2"] and all(r["ok"] for r in results), results
    (one,) = server.bodies("/one")
    assert one["title"] == "Rolled back #7" and "Error rate doubled." in one["message"] and "Issue #7" in one["message"]
    assert server.count("/two") == 1


def test_apprise_failure_is_retried_then_recorded(server: Server, state: State) -> None:
    server.plans["/down"] = [503]
    (result,) = notify(state, settings(apprise_urls=f"json://127.0.0.1:{server.port}/down", max_retries=1), "failed", title="t", message="m", issue=ISSUE)
    assert not result["ok"] and result["status"] == 503 and server.count("/down") == 2
    assert rows(state, "SELECT decision FROM audit WHERE step = 'notify'") == [{"decision": "notify-failed"}]


def test_apprise_timeout_comes_from_config(server: Server, state: State) -> None:
    server.plans["/slow"] = [1.5]
    (result,) = notify(state, settings(apprise_urls=f"json://127.0.0.1:{server.port}/slow", timeout_s=0.2, max_retries=0), "failed", title="t", message="m")
    assert not result["ok"] and server.count("/slow") == 1


def test_an_invalid_apprise_url_is_a_failure_not_a_retry(state: State) -> None:
    (result,) = notify(state, settings(apprise_urls="nosuchscheme://x"), "failed", title="t", message="m")
    assert result["channel"] == "apprise:nosuchscheme" and not result["ok"] and "apprise URL" in result["error"]


def test_importing_notify_loads_no_sender_library() -> None:
    code = "import sys, agent_cli.notify; print([m for m in ('apprise', 'httpx', 'tenacity', 'requests') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---- the retry helper ---------------------------------------------------------------------------


def test_retry_decision_is_data() -> None:
    class Boom(Exception):
        def __init__(self, status_code: int | None = None) -> None:
            self.status_code = status_code

    on = RetryOn(exceptions=(TimeoutError,), status_errors=(Boom,))
    assert on(TimeoutError()) and on(Boom(503)) and on(Boom(429)) and not on(Boom(400)) and not on(Boom()) and not on(ValueError())
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Boom(500)
        return "ok"

    for attempt in retrying(2, on, wait_initial_s=0.001):
        with attempt:
            assert flaky() == "ok"
    assert len(calls) == 3
    with pytest.raises(Boom):
        for attempt in retrying(1, on, wait_initial_s=0.001):
            with attempt:
                raise Boom(500)


# ---- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["slack_webhook_url", "discord_webhook_url", "google_chat_webhook_url", "webhook_url", "apprise_urls"])
def test_urls_in_the_file_are_refused(tmp_path: Path, key: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f"[notify]\n{key} = 'json://127.0.0.1:9/x'\n")
    with pytest.raises(ConfigError, match=f"AGENT_NOTIFY__{key.upper()}") as info:
        load_settings(config, require_repo=False)
    assert info.value.exit_code == 2


def test_notify_keys_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("[notify]\nevents = ['failed', 'agent_trouble']\ndetected_severities = ['P0']\ntimeout_s = 3\nmax_retries = 1\n")
    monkeypatch.setenv("AGENT_NOTIFY__APPRISE_URLS", "json://127.0.0.1:9/a json://127.0.0.1:9/b")
    s = load_settings(config, require_repo=False)
    assert s.notify.events == ["failed", "agent_trouble"] and s.notify.detected_severities == ["P0"]
    assert s.notify.timeout_s == 3 and s.notify.max_retries == 1
    assert [c.name for c in notify_mod.channels(s)] == ["apprise:json", "apprise:json#2"]
    assert Settings().notify.events == list(EVENTS) and Settings().notify.detected_severities == ["P0", "P1"]


@pytest.mark.parametrize(("toml", "words"), [
    ("[notify]\nevents = ['deployed', 'exploded']\n", "unknown event 'exploded'"),
    ("[notify]\ndetected_severities = ['P9']\n", "unknown severity 'P9'"),
    ("[notify]\ntimeout_s = 0\n", "greater than 0"),
])
def test_bad_notify_values_are_refused(tmp_path: Path, toml: str, words: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=words):
        load_settings(config, require_repo=False)
