"""Finding event records in a byte buffer without a Python loop per line.

Candidate lines are found by searching the whole buffer for a few level
markers in native code (Hyperscan, all markers in one pass, where its wheel
exists; else one `bytes.find` pass per marker); only those lines, and the
continuation lines of their records (stack traces), are looked at in Python.
Lines are counted with `bytes.count`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent_cli.detect import logcat
from agent_cli.detect.events import CHAIN_MARKERS, LEVEL_RANK, python_traceback_complete

MAX_BLOCK_LINES = 400
MAX_BLOCK_BYTES = 256 * 1024
MAX_LINE_BYTES = 1024 * 1024
HYPERSCAN_MIN_BYTES = 256 * 1024  # below this loading Hyperscan costs more than bytes.find

_BASE_MARKERS: dict[str, tuple[bytes, ...]] = {
    "debug": (b"DEBUG", b"TRACE", b"debug"),
    "info": (b"INFO", b"NOTICE", b"info"),
    "warning": (b"WARN", b"arn"),  # WARN/WARNING; warn/Warning/"warn"
    "error": (b"ERROR", b"rror", b"SEVERE", b"Traceback", b"xception"),  # rror: error, Error:, TypeError
    "critical": (b"FATAL", b"atal", b"CRIT", b"ritical", b"panic"),  # panic: Go
}
_LEVEL_ORDER = tuple(LEVEL_RANK)  # lowest first
# pino / bunyan numeric levels in JSON lines.
_NUMERIC_LEVEL = re.compile(rb'"level":\s?([1-6]0)\b')
_NUMERIC_MIN = {"debug": 10, "info": 30, "warning": 40, "error": 50, "critical": 60}
_CHAIN = tuple(m.encode() for m in CHAIN_MARKERS)
_PY_EXC = re.compile(rb"^[A-Za-z_][\w.]*(?::|$)")
_PY_TB = b"Traceback (most recent call last)"
# Go: the lines of a panic's goroutine dump that stand at the margin.
_GO_LINE = re.compile(rb"^(?:goroutine \d+ \[[^\]]*\]:|\[signal .*|panic: .*|created by \S.*|\S+\(.*\))$")
_GO_HEAD = re.compile(rb"(?:^|\s)(?:panic: |fatal error: |http: panic serving )")
_GOROUTINE = re.compile(rb"^goroutine \d+ \[", re.MULTILINE)
# Java/.NET lines that continue a trace from the margin or after a blank line.
_JAVA_AFTER_BLANK = re.compile(rb"^(?:\s+at \S|\s+\.\.\. \d+ (?:more|common frames omitted)|Caused by: )", re.MULTILINE)
_DOTNET_MARKER = re.compile(rb"^\s*--- End of (?:stack trace from previous location|inner exception stack trace) ---")
# PHP "Stack trace:" / "#0 file(9): f()", Dart "#0      main (file:///a.dart:2:3)".
_HASH_FRAME = re.compile(rb"^#\d+\s+\S")
# Ruby "app/models/order.rb:12:in 'place'" at the margin; Rails' "ActiveRecord::RecordNotFound (msg):" head.
_RUBY_FRAME = re.compile(rb"^(?:from )?[^\s:]+:\d+:in [`'].*'$", re.MULTILINE)
_RUBY_HEAD = re.compile(rb"(?:^|\s)(?:[A-Z]\w*::)*[A-Z]\w* \(.*\):\s*$")
# Firefox / Safari "getTeam@https://shop.example/app.js:11:25".
_AT_SIGN_FRAME = re.compile(rb"^[^@\s]*(?: code)?@\S+:\d+:\d+$", re.MULTILINE)
_EXC_HEADER = re.compile(rb"^(?:Exception in thread .*|[\w.$]*(?:Exception|Error|Throwable)(?::.*)?)$")


def markers_for(min_level: str) -> tuple[bytes, ...]:
    start = _LEVEL_ORDER.index(min_level)
    out: list[bytes] = []
    for level in _LEVEL_ORDER[start:]:
        out.extend(_BASE_MARKERS[level])
    return tuple(out)


@dataclass
class Block:
    offset: int  # absolute byte offset of the record's first line
    line: int  # 1-based line number of that line
    text: bytes


@dataclass
class BufferScan:
    blocks: list[Block] = field(default_factory=list)
    consumed: int = 0  # bytes of the buffer fully processed
    lines: int = 0  # complete lines in buf[:consumed]
    skipped: list[str] = field(default_factory=list)


def _line_end(buf: bytes, start: int, end: int) -> int:
    """Position just after the newline ending the line that starts at `start`."""
    nl = buf.find(b"\n", start, end)
    return end if nl == -1 else nl + 1


def _is_indented(buf: bytes, pos: int) -> bool:
    return buf[pos:pos + 1] in (b" ", b"\t")


def _next_nonblank(buf: bytes, pos: int, end: int) -> int:
    while pos < end and buf[pos:pos + 1] in (b"\n", b"\r"):
        pos += 1
    return pos


def _continues(buf: bytes, pos: int, end: int, in_python_tb: bool, prev_indented: bool, second_line: bool,
               in_go: bool = False, in_stack: bool = False, early: bool = False) -> bool:
    """Does the line at `pos` continue the record above it?

    `in_go`: the record is a Go panic (its goroutine dump stands at the margin, after blank lines);
    `in_stack`: a Java/.NET trace has begun (a blank line inside it does not end it);
    `early`: the line is the record's third and the second was indented (no trace yet).
    """
    if pos >= end:
        return False
    if _is_indented(buf, pos):
        return True
    line = buf[pos:_line_end(buf, pos, end)].rstrip(b"\r\n")
    if in_go:
        if not line:
            nxt = _next_nonblank(buf, pos, end)
            return nxt < end and bool(_GOROUTINE.match(buf, nxt))
        return bool(_GO_LINE.match(line))
    if in_stack and (not line or _DOTNET_MARKER.match(line)):
        if _DOTNET_MARKER.match(line):
            return True
        nxt = _next_nonblank(buf, pos, end)
        return nxt < end and bool(_JAVA_AFTER_BLANK.match(buf, nxt))
    if not line:
        # Blank lines belong to a Python exception chain: just before or just after its marker line.
        if not in_python_tb:
            return False
        probe = pos
        while probe < end and buf[probe:probe + 1] in (b"\n", b"\r"):
            probe += 1
        if buf.startswith(_CHAIN, probe):
            return True
        q = pos
        while q > 0 and buf[q - 1:q] in (b"\n", b"\r"):
            q -= 1
        return buf.startswith(_CHAIN, buf.rfind(b"\n", 0, q) + 1)
    if line.startswith((b"Traceback (most recent call last)", b"Caused by: ")) or line.startswith(_CHAIN):
        return True
    # The exception line closing a Python traceback: "ValueError: bad value".
    if in_python_tb and prev_indented and _PY_EXC.match(line):
        return True
    # A Java/JS/.NET exception header right under a log line (or under its one indented continuation line, as
    # ASP.NET's console logger writes), followed by its indented frames, possibly after a blank line.
    if not (second_line or early) or in_python_tb:
        return False
    nxt = _line_end(buf, pos, end)
    if not _EXC_HEADER.match(line) or nxt >= end:
        return False
    return _is_indented(buf, nxt) or (buf[nxt:nxt + 1] in (b"\n", b"\r") and bool(_JAVA_AFTER_BLANK.match(buf, _next_nonblank(buf, nxt, end))))


def _continues_other(buf: bytes, pos: int, end: int, line: bytes, prev: bytes, count: int, dart: bool, ruby_head: bool) -> bool:
    """Runtimes whose traces continue at the margin: PHP, Dart, Ruby/Rails, Firefox/Safari.

    `dart`: the record starts with Dart's "Unhandled exception:"; `ruby_head`: with a Rails "Type (message):" line.
    """
    if dart and count < 12 and not _HASH_FRAME.match(prev) and not _HASH_FRAME.match(line):
        # The exception under Dart's "Unhandled exception:", with the source excerpt a FormatException shows.
        if line:
            return True
        nxt = _next_nonblank(buf, pos, end)
        return nxt < end and bool(_HASH_FRAME.match(buf[nxt:nxt + 64]))
    if not line:
        if not ruby_head:
            return False
        nxt = _next_nonblank(buf, pos, end)
        return nxt < end and bool(_RUBY_FRAME.match(buf, nxt))
    if line.startswith(b"#") and _HASH_FRAME.match(line):
        return prev in (b"Stack trace:", b"<asynchronous suspension>", b"") or bool(_HASH_FRAME.match(prev)) or dart
    if line == b"Stack trace:":
        return True
    if line == b"<asynchronous suspension>":
        return bool(_HASH_FRAME.match(prev))
    if count == 1 and line.endswith(b"):") and _RUBY_HEAD.match(line):  # Rails: the exception under its "FATAL -- :" line
        nxt = _line_end(buf, pos, end)
        return nxt < end and (_is_indented(buf, nxt) or bool(_RUBY_FRAME.match(buf, nxt)))
    if b":in " in line and _RUBY_FRAME.match(line):
        return bool(_RUBY_FRAME.match(prev)) or ruby_head or bool(_RUBY_HEAD.match(prev))
    if b"@" in line and _AT_SIGN_FRAME.match(line):
        return bool(_AT_SIGN_FRAME.match(prev)) or bool(_EXC_HEADER.match(prev)) or (count == 1 and (b"Error" in prev or b"Exception" in prev))
    return False


def _extend(buf: bytes, head: int, end: int, in_logcat: bool = False) -> int:
    """End of the record whose first line starts at `head`. `in_logcat`: the buffer is Android logcat output."""
    pos = _line_end(buf, head, end)
    if buf.startswith(b"{", head):
        return pos  # a JSON line is a whole record
    if in_logcat:
        found = logcat.record_end(buf, head, end)
        if found is not None:
            return found
    first = buf[head:pos]
    in_tb = _PY_TB in first  # also after a log prefix on the same line
    in_go = bool(_GO_HEAD.search(first))
    in_stack = bool(_EXC_HEADER.match(first.rstrip(b"\r\n")))
    dart = first.rstrip().endswith(b"Unhandled exception:")
    ruby_head = first.rstrip().endswith(b"):") and bool(_RUBY_HEAD.search(first))
    prev_indented = False
    prev = first.rstrip(b"\r\n")
    count = 1
    while pos < end and count < MAX_BLOCK_LINES and pos - head < MAX_BLOCK_BYTES:
        line_end = _line_end(buf, pos, end)
        indented = _is_indented(buf, pos)
        if indented:
            line = b" "  # an indented line always continues, and is no frame or header the margin rules look for
        else:
            line = buf[pos:line_end].rstrip(b"\r\n")
            early = count == 2 and prev_indented and not in_stack
            if not (_continues_other(buf, pos, end, line, prev, count, dart, ruby_head)
                    or _continues(buf, pos, end, in_tb, prev_indented, count == 1, in_go, in_stack and not in_tb, early)):
                break
            if line.startswith(_PY_TB):
                in_tb = True
        if not in_stack and not in_tb and (_JAVA_AFTER_BLANK.match(buf, pos) or (not indented and _EXC_HEADER.match(line))):
            in_stack = True
        prev_indented = indented
        prev = line
        pos = line_end
        count += 1
    return pos


def _head_of(buf: bytes, line_start: int, floor: int) -> int:
    """Walk back from an indented candidate line to the first line of its record."""
    pos, steps = line_start, 0
    while pos > floor and steps < MAX_BLOCK_LINES and (_is_indented(buf, pos) or buf[pos:pos + 1] == b"\n"):
        nl = buf.rfind(b"\n", floor, pos - 1)
        pos, steps = (nl + 1 if nl != -1 else floor), steps + 1
    return pos


def _starts_by_find(buf: bytes, end: int, markers: tuple[bytes, ...]) -> set[int]:
    """Portable search: one `bytes.find` pass per marker."""
    starts: set[int] = set()
    for marker in markers:
        p = buf.find(marker, 0, end)
        while p != -1:
            ls = buf.rfind(b"\n", 0, p) + 1
            starts.add(ls)
            # Skip the rest of this line: one hit per line is enough.
            nl = buf.find(b"\n", p, end)
            if nl == -1:
                break
            p = buf.find(marker, nl + 1, end)
    return starts


_HYPERSCAN: dict[tuple[bytes, ...], Any] = {}


def _hyperscan_database(markers: tuple[bytes, ...]) -> Any:
    """A compiled Hyperscan database for the markers, or None where Hyperscan is not installed."""
    if markers not in _HYPERSCAN:
        try:
            import hyperscan

            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=list(markers), ids=list(range(len(markers))), elements=len(markers), flags=[0] * len(markers))
        except Exception:  # not installed, or no wheel for this platform: the portable search serves
            db = None
        _HYPERSCAN[markers] = db
    return _HYPERSCAN[markers]


def _starts_for(buf: bytes, end: int, markers: tuple[bytes, ...]) -> set[int]:
    """Line starts of lines holding any marker: all markers in one native pass when Hyperscan is there."""
    db = _hyperscan_database(markers) if end >= HYPERSCAN_MIN_BYTES else None
    if db is None:
        return _starts_by_find(buf, end, markers)
    ends: list[int] = []
    db.scan(buf, match_event_handler=lambda _id, _start, stop, _flags, _ctx: ends.append(stop))
    return {buf.rfind(b"\n", 0, stop) + 1 for stop in ends if stop <= end}


def candidate_line_starts(buf: bytes, end: int, markers: tuple[bytes, ...], min_level: str, in_logcat: bool = False) -> list[int]:
    starts = _starts_for(buf, end, markers)
    if in_logcat:  # logcat lines carry a priority letter, not a level word
        starts |= logcat.candidate_starts(buf, end, min_level)
    if b'"level":' in buf[:4096] or b'"level": ' in buf[:4096]:
        floor = _NUMERIC_MIN[min_level]
        for m in _NUMERIC_LEVEL.finditer(buf, 0, end):
            if int(m.group(1)) >= floor:
                starts.add(buf.rfind(b"\n", 0, m.start()) + 1)
    return sorted(starts)


def scan_buffer(buf: bytes, markers: tuple[bytes, ...], min_level: str, *, base_offset: int = 0, base_line: int = 0, final: bool = True) -> BufferScan:
    """Records in `buf` that contain a marker, with their byte offsets and line numbers.

    Only complete lines are consumed. A record that runs into the end of the
    buffer is held back (not consumed) unless `final` and it is syntactically
    complete, so a traceback split across two reads is counted once, whole.
    """
    result = BufferScan()
    end = buf.rfind(b"\n") + 1
    if end == 0:
        return result
    consumed_until = 0
    counted_to, line_at = 0, base_line
    hold_back: int | None = None
    in_logcat = logcat.sniff(buf)
    for ls in candidate_line_starts(buf, end, markers, min_level, in_logcat):
        if ls < consumed_until:
            continue
        head = _head_of(buf, ls, consumed_until) if _is_indented(buf, ls) else ls
        if head < consumed_until:
            continue
        block_end = _extend(buf, head, end, in_logcat)
        text = buf[head:block_end]
        if block_end >= end:
            # A whole JSON record (one line, `{...}`) is complete as it is: a traceback inside it is an escaped string.
            json_record = text.lstrip().startswith(b"{") and text.rstrip().endswith(b"}") and text.count(b"\n") <= 1
            complete = final and (json_record or python_traceback_complete(text.decode("utf-8", "replace").rstrip("\n").split("\n")))
            if not complete and len(text) < MAX_BLOCK_BYTES:
                hold_back = head
                break
        line_at += buf.count(b"\n", counted_to, head)
        counted_to = head
        consumed_until = block_end
        if block_end - head > MAX_LINE_BYTES and buf.find(b"\n", head, head + MAX_LINE_BYTES) == -1:
            result.skipped.append(f"line {line_at + 1}: {block_end - head}-byte line skipped")
            continue
        if b"\x00" in text:
            result.skipped.append(f"line {line_at + 1}: binary data skipped")
            continue
        result.blocks.append(Block(base_offset + head, line_at + 1, text))
    result.consumed = end if hold_back is None else hold_back
    result.lines = buf.count(b"\n", 0, result.consumed)
    return result
