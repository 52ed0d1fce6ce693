"""The fast paths of the scan (native marker search, a forked half) give the portable path's answers."""

from __future__ import annotations

import random

import pytest

from agent_cli.config import SourceConfig
from agent_cli.detect import parallel, record_finder, sources

TRACE = (
    "2026-11-21T10:00:{s:02d}Z ERROR app.views: failed id={n}\n"
    "Traceback (most recent call last):\n"
    '  File "/app/app/views.py", line 6, in get_item\n'
    "    return item.name\n"
    "AttributeError: 'NoneType' object has no attribute 'name'\n"
)


def big_log(size: int) -> bytes:
    rng = random.Random(3)
    out, total = [], 0
    while total < size:
        n = rng.randrange(10**6)
        r = rng.random()
        if r < 0.01:
            line = TRACE.format(s=n % 60, n=n)
        elif r < 0.02:
            line = f'{{"ts":"2026-11-21T10:00:00Z","level":"warn","msg":"slow {n}"}}\n'
        elif r < 0.025:
            line = f"TypeError: Cannot read properties of undefined (reading 'x{n % 3}')\n    at f (/srv/app/src/a.js:{n % 90}:1)\n"
        else:
            line = f"2026-11-21T10:00:00Z INFO app.http: GET /api/{n} 200 request_id=r{n:x}\n"
        out.append(line)
        total += len(line)
    return "".join(out).encode()


@pytest.fixture(scope="module")
def log() -> bytes:
    return big_log(6 * 1024 * 1024)


def test_native_marker_search_finds_the_same_lines(log: bytes) -> None:
    pytest.importorskip("hyperscan")
    markers = record_finder.markers_for("warning")
    assert record_finder._hyperscan_database(markers) is not None
    end = log.rfind(b"\n") + 1
    assert record_finder._starts_for(log, end, markers) == record_finder._starts_by_find(log, end, markers)


def test_forked_half_gives_the_same_events_as_one_process(log: bytes) -> None:
    assert parallel.can_fork(len(log)), "this test needs a multi-core machine"
    source = SourceConfig(name="app", kind="file", paths=["x"])
    markers = record_finder.markers_for("warning")
    serial, serial_scan = sources._parse_buffer(log, source, path="x", base_offset=0, base_line=0, final=True, markers=markers)
    split, split_scan = sources._events_from_buffer(log, source, path="x", base_offset=0, base_line=0, final=True, markers=markers)
    key = [(e.line, e.level, e.exception_type, e.message) for e in serial]
    assert [(e.line, e.level, e.exception_type, e.message) for e in split] == key
    assert (split_scan.consumed, split_scan.lines) == (serial_scan.consumed, serial_scan.lines)
    assert len(key) > 500


def test_split_point_is_a_record_start(log: bytes) -> None:
    at = parallel.safe_split(log)
    assert at is not None and log[at - 1:at] == b"\n" and log[at:at + 1] in (b"2", b"{")
    assert parallel.safe_split(b"  indented only\n" * 1000) is None
