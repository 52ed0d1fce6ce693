"""JSON loggers: level, message, error and time fields of each, and times in the right (UTC) minute.

The fixtures in tests/fixtures/json_loggers/ are the loggers' own output (see its README); Go's are
written in the formats the Go loggers document.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent_cli.detect.events import Event, parse_block
from agent_cli.detect.fingerprint import fingerprint
from agent_cli.detect.jsonlog import level_number, level_word, normalize_ts
from tests.conftest import Project

FIXTURES = Path(__file__).parent / "fixtures" / "json_loggers"


def records(name: str) -> list[Event]:
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        event = parse_block(line, source="app")
        event.fingerprint, event.template = fingerprint(event)
        out.append(event)
    return out


def frames_of(event: Event) -> list[tuple[str, int | None, str]]:
    return [(f.file, f.line, f.function) for f in event.frames]


# --- Node: pino, bunyan, winston -----------------------------------------------------------------------------


def test_pino_msg_and_err_the_error_wins() -> None:
    with_msg, err_only, warn, ok = records("pino.log")
    for event in (with_msg, err_only):
        assert (event.level, event.exception_type, event.exception_message) == ("error", "Error", "connect ECONNREFUSED 127.0.0.1:5432")
        assert event.title == "Error: connect ECONNREFUSED <ip>"
        assert event.frames[0].function == "dbError" and len(event.frames) == 8
    assert with_msg.message == "unhandled error"  # the record's own words stay the message; the title is the error's
    assert with_msg.ts == "2026-12-01T11:06:52.283000+00:00"  # epoch milliseconds, not the scan time
    assert (warn.level, warn.title, ok.level) == ("warning", "low disk", "info")


def test_pino_typed_error_without_a_stack_is_titled_by_the_error() -> None:
    line = '{"level":50,"time":1796123212283,"msg":"unhandled error","err":{"type":"TypeError","message":"fetch failed: ECONNREFUSED"}}'
    event = parse_block(line, source="app")
    event.fingerprint, event.template = fingerprint(event)
    assert event.title == "TypeError: fetch failed: ECONNREFUSED"
    assert (event.exception_type, event.exception_message) == ("TypeError", "fetch failed: ECONNREFUSED")


def test_bunyan_levels_errors_and_iso_time() -> None:
    unserialised, typed, warn = records("bunyan.log")
    # Without bunyan's err serializer only the Node error's own fields are written: its code says what happened.
    assert (unserialised.level, unserialised.title, unserialised.exception_type) == ("error", "unhandled error: ECONNREFUSED", None)
    assert (typed.exception_type, typed.exception_message) == ("TypeError", "Cannot read properties of undefined (reading 'id')")
    assert typed.frames[0].file == "/tmp/loggers/gen.js" and typed.frames[0].line == 22
    assert typed.ts == "2026-12-01T11:06:52.288000+00:00" and warn.level == "warning"


def test_winston_top_level_stack_and_error_object() -> None:
    combined, bare, warn, obj = records("winston.log")
    assert combined.message == "query failed connect ECONNREFUSED 127.0.0.1:5432"  # winston joins message and error
    assert (combined.exception_type, combined.exception_message) == ("Error", "connect ECONNREFUSED 127.0.0.1:5432")
    assert bare.frames[0].function == "dbError" and warn.level == "warning"
    assert (obj.exception_type, obj.exception_message, frames_of(obj)) == ("Error", "card declined", [("/srv/app/pay.js", 3, "pay")])
    assert obj.ts == "2026-12-01T11:06:52.296000+00:00"


def test_pino_http_lines_carry_the_request_and_are_marked_as_summaries() -> None:
    app_line, errored, completed = records("pino_http.log")
    assert app_line.request == {"path": "/boom/7", "method": "GET", "request_id": "vm/7421/1"} and not app_line.http_summary
    assert errored.request["status"] == 500 and errored.request["request_id"] == "vm/7421/1" and errored.http_summary
    assert completed.http_summary and completed.level == "info"


# --- Python: structlog, python-json-logger -------------------------------------------------------------------


def test_structlog_dict_tracebacks_and_text_tracebacks() -> None:
    (dict_tb, warn), (text_tb,) = records("structlog_dict.log"), records("structlog_text.log")
    for event in (dict_tb, text_tb):
        assert (event.level, event.exception_type, event.exception_message, event.message) == ("error", "KeyError", "'items'", "lookup failed")
        assert [f.function for f in event.frames] == ["<module>", "boom"] and {f.lang for f in event.frames} == {"python"}
        assert event.title == "KeyError: <str>"
    assert dict_tb.fingerprint == text_tb.fingerprint  # the same bug, whichever renderer wrote it
    assert dict_tb.request == {"request_id": "r1"} and dict_tb.user_id == "u7"
    assert dict_tb.ts == "2026-12-01T11:07:30.524618+00:00" and warn.request == {"path": "/items"}
    assert text_tb.ts == "2026-12-01T11:07:30.525405"  # no zone written: kept naive (read as UTC)


def test_python_json_logger_levelname_exc_info_and_asctime() -> None:
    error, warn, other = records("python_json_logger.log")
    assert (error.level, error.exception_type, error.message, error.request) == ("error", "KeyError", "lookup failed", {"request_id": "r2"})
    assert [f.line for f in error.frames] == [31, 5] and warn.level == "warning"
    assert error.ts == "2026-12-01 11:07:30,527"
    assert other.ts == "2026-12-01T11:07:30.528149+00:00" and other.exception_type == "KeyError"


# --- Go: slog, zap, logrus ------------------------------------------------------------------------------------


def test_go_loggers_levels_errors_stacks_and_times() -> None:
    slog_err, slog_warn, slog_info, zap_err, zap_dpanic, logrus_err, logrus_warn, logrus_fatal = records("go_loggers.log")
    assert (slog_err.level, slog_err.title) == ("error", "payment failed: dial tcp <ip>: connect: connection refused")
    assert slog_err.ts == "2026-12-01T11:06:52.123456+00:00"  # +02:00 with nanoseconds, in UTC
    assert (slog_warn.level, slog_warn.ts) == ("warning", "2026-12-01T11:06:53.500000+00:00")  # WARN+2, -05:00
    assert slog_info.level == "info"
    assert zap_err.message == 'query failed: ERROR: column "nro" does not exist (SQLSTATE 42703)'
    assert zap_err.ts == "2026-12-01T11:06:55.616092+00:00"  # epoch seconds with a fraction
    assert [(f.function, f.in_app) for f in zap_err.frames] == [
        ("github.com/shop/api/handlers.(*OrderHandler).List", True), ("github.com/gin-gonic/gin.(*Context).Next", False),
        ("main.main", True), ("runtime.main", False)]
    assert zap_err.frames[0].lang == "go" and zap_err.frames[0].file == "/src/api/handlers/orders.go"
    assert zap_dpanic.level == "error"
    assert logrus_err.title == "config load failed: open <path>: no such file or directory"
    assert logrus_err.ts == "2026-12-01T11:06:57+00:00" and logrus_warn.level == "warning"
    assert (logrus_fatal.level, logrus_fatal.ts) == ("critical", "2026-12-01T11:06:59.562264+00:00")  # Go's time.String()


@pytest.mark.parametrize(("word", "level"), [
    ("ERROR", "error"), ("error", "error"), ("Warning", "warning"), ("warn", "warning"), ("WARN+2", "warning"),
    ("INFO+4", "warning"), ("ERROR-1", "warning"), ("DEBUG+4", "info"), ("ERROR+4", "error"), ("dpanic", "error"),
    ("panic", "critical"), ("fatal", "critical"), ("CRITICAL", "critical"), ("EMERGENCY", "critical"), ("notice", "info"),
    ("silly", "debug"), ("http", "info"), ("eror", "error"), ("trace", "debug"),
])
def test_level_words(word: str, level: str) -> None:
    assert level_word(word) == level


def test_level_numbers_by_logger() -> None:
    assert [level_number(n, "level") for n in (10, 20, 30, 40, 50, 60)] == ["debug", "debug", "info", "warning", "error", "critical"]
    assert [level_number(n, "levelno") for n in (10, 20, 30, 40, 50)] == ["debug", "info", "warning", "error", "critical"]
    assert [level_number(n, "severity") for n in (100, 200, 400, 500, 600, 800)] == ["debug", "info", "warning", "error", "critical", "critical"]
    with pytest.raises(ValueError):
        level_number(float("inf"), "level")


@pytest.mark.parametrize(("value", "utc"), [
    (1796123212283, "2026-12-01T11:06:52.283000+00:00"),  # pino: epoch ms
    (1796123212.5, "2026-12-01T11:06:52.500000+00:00"),  # zap: epoch s
    (1796123212, "2026-12-01T11:06:52+00:00"),
    (1796123212283000000, "2026-12-01T11:06:52.283000+00:00"),  # epoch ns
    ("1796123212283", "2026-12-01T11:06:52.283000+00:00"),
    ("2026-12-01T13:06:52+02:00", "2026-12-01T11:06:52+00:00"),
    ("2026-12-01T06:06:52-0500", "2026-12-01T11:06:52+00:00"),
    ("2026-12-01T11:06:52.1Z", "2026-12-01T11:06:52.100000+00:00"),
    ("2026-12-01T00:30:00+01:00", "2026-11-30T23:30:00+00:00"),  # across midnight (and a month)
    ("2026-12-01 11:06:52,527", "2026-12-01 11:06:52,527"),  # no zone: as written
])
def test_times_become_utc(value: object, utc: str) -> None:
    assert normalize_ts(value) == utc


# --- end to end ------------------------------------------------------------------------------------------------


@pytest.fixture
def logs(project: Project) -> Path:
    (project.root / "logs").mkdir()
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    return project.root / "logs"


def test_scan_titles_a_pino_outage_by_its_error_and_rates_it_p0(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text((FIXTURES / "pino.log").read_text())
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr
    issues = {i["title"]: i for i in project.cli("--json", "issues").json()["issues"]}
    outage = issues["Error: connect ECONNREFUSED <ip>"]
    assert outage["count"] == 2 and outage["severity"] == "P0"
    assert outage["first_seen"].startswith("2026-12-01T11:06:52")
    assert not any("unhandled error" in t for t in issues)


def test_offset_times_land_in_their_utc_minute(project: Project, logs: Path) -> None:
    (logs / "app.log").write_text(
        '{"time":"2026-12-01T13:06:52+02:00","level":"error","msg":"charge failed"}\n'
        '{"time":"2026-12-01T06:07:10-0500","level":"error","msg":"charge failed"}\n'
        '{"time":1796123280000,"level":50,"msg":"charge failed"}\n'
        "2026-12-01T15:09:00+04:00 ERROR app: charge failed\n"
        '127.0.0.1 - - [01/Dec/2026:12:10:05 +0100] "GET /pay HTTP/1.1" 503 12 "-" "curl" error\n'
    )
    assert project.cli("--json", "scan").exit_code == 0
    with sqlite3.connect(project.state) as db:
        minutes = db.execute("SELECT minute, SUM(count) FROM issue_minutes GROUP BY minute ORDER BY minute").fetchall()
    assert minutes == [("2026-12-01T11:06", 1), ("2026-12-01T11:07", 1), ("2026-12-01T11:08", 1), ("2026-12-01T11:09", 1),
                       ("2026-12-01T11:10", 1)]
    shown = [project.cli("--json", "show", str(i["id"])).json() for i in project.cli("--json", "issues").json()["issues"]]
    assert all(json.dumps(s["events"]) for s in shown)


def test_a_json_record_carrying_a_traceback_as_the_last_line_is_read_at_once(project: Project) -> None:
    # python-json-logger / the demo shop put the traceback in `exc_info` as one escaped string: the record is whole.
    (project.root / "logs").mkdir()
    log = project.root / "logs" / "app.log"
    log.write_text(json.dumps({"level": "info", "msg": "started"}) + "\n")
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\nformat = "json"\n')
    assert project.cli("scan").exit_code == 0
    record = {"level": "error", "msg": "KeyError: 'sku'", "exc_info": "Traceback (most recent call last):\n  File \"/srv/app/shop.py\", "
              "line 3, in total\n    return PRICES[sku]\nKeyError: 'sku'"}
    with log.open("a") as f:
        f.write(json.dumps(record) + "\n")
    scanned = project.cli("--json", "scan").json()
    assert scanned["events"] == 1 and scanned["new_issues"][0]["title"].startswith("KeyError")
