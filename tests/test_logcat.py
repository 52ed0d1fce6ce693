"""Android logcat (threadtime, time, brief): warnings and errors found, a crash's Java trace one event."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent_cli.detect.events import Event, level_at_least, parse_block
from agent_cli.detect.record_finder import markers_for, scan_buffer
from tests.conftest import Project

FIXTURES = Path(__file__).parent / "fixtures" / "logcat"


def events_of(name: str, min_level: str = "warning") -> list[tuple[int, int, Event]]:
    """(first line, lines, event) of each record, as a file source reads them."""
    buf = (FIXTURES / name).read_bytes()
    out = []
    for block in scan_buffer(buf, markers_for(min_level), min_level).blocks:
        text = block.text.decode().rstrip("\n")
        event = parse_block(text, source="phone")
        if level_at_least(event.level, min_level):  # as a file source keeps them
            out.append((block.line, text.count("\n") + 1, event))
    return out


def test_threadtime_warnings_errors_and_a_crash_as_one_event() -> None:
    got = events_of("threadtime.log")
    assert [(line, n, e.level) for line, n, e in got] == [
        (4, 1, "warning"), (5, 1, "warning"), (7, 13, "critical"), (20, 1, "warning"), (21, 3, "warning"), (25, 5, "critical")]
    leak, service, crash, finishing, stream, tombstone = (e for _, _, e in got)
    assert leak.message == "OkHttp: A connection to https://api.example.com/ was leaked. Did you forget to close a response body?"
    assert service.message.startswith("ActivityManager: Unable to start service Intent")
    assert crash.exception_type == "java.lang.RuntimeException"
    assert crash.exception_message.startswith("Unable to start activity ComponentInfo{com.example.shop/com.example.shop.CartActivity}")
    assert crash.raw.split("\n")[0].endswith("E AndroidRuntime: FATAL EXCEPTION: main")
    assert crash.raw.split("\n")[-1].endswith("E AndroidRuntime: \t... 11 more")
    assert [(f.function, f.file, f.line, f.in_app) for f in crash.frames if f.in_app] == [
        ("com.example.shop.CartActivity.total", "CartActivity.kt", 42, True), ("com.example.shop.CartActivity.onCreate", "CartActivity.kt", 18, True)]
    assert not any(f.in_app for f in crash.frames if f.function.startswith(("android.", "com.android.")))
    assert (stream.exception_type, [f.function for f in stream.frames]) == (
        "java.io.IOException", ["okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders", "com.example.shop.net.Api.fetchCart"])
    assert finishing.message == "ActivityTaskManager: Force finishing activity com.example.shop/.CartActivity"
    assert tombstone.raw.count("\n") == 4 and "SIGSEGV" in tombstone.raw


def test_logcat_times_take_a_year_that_is_not_in_the_future() -> None:
    (_, _, leak), *_ = events_of("threadtime.log")
    assert leak.ts is not None and leak.ts.endswith("-12-10T13:02:50.071")
    when = datetime.fromisoformat(leak.ts).replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    assert now - timedelta(days=366) < when <= now + timedelta(days=1)


def test_brief_and_time_layouts() -> None:
    brief = events_of("brief.log")
    assert [(line, n, e.level) for line, n, e in brief] == [(2, 1, "warning"), (3, 4, "critical")]
    crash = brief[1][2]
    assert (crash.exception_type, crash.exception_message, crash.ts) == (
        "java.lang.IllegalStateException", "Fragment not attached to a context.", None)
    assert [f.function for f in crash.frames if f.in_app] == ["com.example.shop.CartFragment.render"]
    timed = events_of("time.log")
    assert [(line, e.level, e.message) for line, _, e in timed] == [
        (1, "warning", "OkHttp: A connection to https://api.example.com/ was leaked."),
        (2, "error", "SQLiteLog: (14) cannot open file at line 36356 of [8201f4e1c5]")]


@pytest.mark.parametrize(("min_level", "count"), [("error", 2), ("info", 9), ("debug", 10)])
def test_min_level_reads_the_priority_letter(min_level: str, count: int) -> None:
    assert len(events_of("threadtime.log", min_level)) == count


def test_zone_and_year_layouts() -> None:
    line = "2026-12-10 13:02:50.340 +0100  4229  4229 E Shop    : checkout failed"
    event = parse_block(line, source="phone")
    assert (event.level, event.ts, event.message) == ("error", "2026-12-10T12:02:50.340000+00:00", "Shop: checkout failed")


def test_scan_finds_every_logcat_warning(project: Project) -> None:
    (project.root / "logs").mkdir()
    project.config.write_text('[[sources]]\nname = "phone"\nkind = "file"\npaths = ["logs/*.log"]\n')
    (project.root / "logs" / "logcat.log").write_text((FIXTURES / "threadtime.log").read_text())
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr
    assert r.json()["events"] == 6
    r = project.cli("scan", "--dry-run", "--events", "--path", str(FIXTURES / "brief.log"))
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [2, 3]
