"""Android logcat: the `threadtime` (default), `time` and `brief` layouts of `adb logcat -v`.

    threadtime  12-10 13:02:50.340  4229  4229 E AndroidRuntime: FATAL EXCEPTION: main
                (`-v year`: 2026-12-10 ..., `-v uid`: a uid before the pid, `-v zone`: +0100 after the time)
    time        12-10 13:02:50.340 E/AndroidRuntime( 4229): FATAL EXCEPTION: main
    brief       E/AndroidRuntime( 4229): FATAL EXCEPTION: main

The priority letter is the level (V/D debug, I info, W warning, E error, F/A critical); lines carry no level
word, so the reader finds them by this module's patterns, not its markers. A Java stack trace is written one
line per logcat line, each under the same prefix: the lines of one record are those with the same process,
thread, priority and tag whose message continues a trace (indented frames, `Caused by:`, `... N more`, the
exception under `FATAL EXCEPTION:` / `Process:`). The prefixes are taken off and the trace read as Java's.

Times carry no year (unless `-v year`): the scan's year is taken, the previous one when that would put the
line more than a day in the future. They are the device's local time, which logcat does not name, and are
read as UTC as any other time without a zone (`-v zone`/`-v UTC` lines name it, and are converted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_TIME = r"(?P<date>(?:\d{4}-)?\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d\.\d{3,9})(?: (?P<zone>[+-]\d{4}|UTC))?"
THREADTIME = re.compile(_TIME + r"\s+(?:(?P<uid>[a-z]\w*|\d+)\s+)??(?P<pid>\d+)\s+(?P<tid>\d+) (?P<prio>[VDIWEFA]) (?P<tag>.*?)\s*: ?(?P<msg>.*)$")
TIMEFMT = re.compile(_TIME + r"\s+(?P<prio>[VDIWEFA])/(?P<tag>[^(]*?)\s*\(\s*(?P<pid>\d+)\): ?(?P<msg>.*)$")
BRIEF = re.compile(r"^(?P<prio>[VDIWEFA])/(?P<tag>[^(]*?)\s*\(\s*(?P<pid>\d+)\): ?(?P<msg>.*)$")
LEVELS = {"V": "debug", "D": "debug", "I": "info", "W": "warning", "E": "error", "F": "critical", "A": "critical"}
_LETTERS = {"debug": b"VDIWEFA", "info": b"IWEFA", "warning": b"WEFA", "error": b"EFA", "critical": b"FA"}
_BTIME = rb"(?:\d{4}-)?\d\d-\d\d \d\d:\d\d:\d\d\.\d{3,9}(?: (?:[+-]\d{4}|UTC))?"
_ANY = re.compile(rb"^(?:" + _BTIME + rb"\s+(?:(?:[a-z]\w*|\d+)\s+)?\d+\s+\d+ (?P<p1>[VDIWEFA]) |(?:" + _BTIME
                  + rb"\s+)?(?P<p2>[VDIWEFA])/[^(\n]*\(\s*\d+\): )", re.MULTILINE)
_CONTINUATION = re.compile(r"^(?:\s|Caused by: |Suppressed: |\.\.\. \d+ more|Process: )")
_EXC_HEADER = re.compile(r"^[\w.$]+(?:Exception|Error|Throwable)(?::|$)")


@dataclass
class Line:
    prio: str
    tag: str
    pid: str
    tid: str
    msg: str
    date: str | None
    time: str | None
    zone: str | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.pid, self.tid, self.prio, self.tag)


def maybe_logcat(text: str) -> bool:
    """A cheap look at a line's first characters: could it be logcat? (ISO-timestamped lines mostly say no here.)"""
    return (text[2:3] == "-" and text[5:6] == " ") or text[1:2] == "/" or (text[4:5] == "-" and text[10:11] == " " and text[19:20] == ".")


def parse_line(text: str) -> Line | None:
    if not maybe_logcat(text):
        return None
    c = text[0]
    if c.isdigit():
        m = THREADTIME.match(text)
        if m:
            return Line(m["prio"], m["tag"].strip(), m["pid"], m["tid"], m["msg"], m["date"], m["time"], m["zone"])
        m = TIMEFMT.match(text)
        if m:
            return Line(m["prio"], m["tag"].strip(), m["pid"], "", m["msg"], m["date"], m["time"], m["zone"])
        return None
    if c in "VDIWEFA" and text[1:2] == "/":
        m = BRIEF.match(text)
        if m:
            return Line(m["prio"], m["tag"].strip(), m["pid"], "", m["msg"], None, None, None)
    return None


def sniff(buf: bytes) -> bool:
    """Does the start of this buffer look like logcat output?"""
    return bool(_ANY.search(buf, 0, min(len(buf), 4096)))


def candidate_starts(buf: bytes, end: int, min_level: str) -> set[int]:
    """Line starts of logcat lines at or above min_level (one regex pass over the buffer)."""
    letters = _LETTERS.get(min_level, b"WEFA")
    starts: set[int] = set()
    for m in _ANY.finditer(buf, 0, end):
        prio = m["p1"] or m["p2"]
        if prio in letters:
            starts.add(m.start())
    return starts


def continues(head: Line, prev: Line, nxt: Line) -> bool:
    """Does logcat line `nxt` continue the record that starts with `head` and whose last line is `prev`?"""
    if nxt.key != prev.key:
        return False
    if head.msg.startswith("*** *** ***"):
        return True  # a native crash's tombstone (F DEBUG): every line of the dump under its prefix
    if _CONTINUATION.match(nxt.msg):
        return True
    # The exception under AndroidRuntime's "FATAL EXCEPTION: main" / "Process: app, PID: 1".
    return prev.msg.startswith(("FATAL EXCEPTION", "Process: ")) and bool(_EXC_HEADER.match(nxt.msg))


def record_end(buf: bytes, head: int, end: int) -> int | None:
    """End of the logcat record starting at `head`, or None when that line is not logcat."""
    nl = buf.find(b"\n", head, end)
    pos = end if nl == -1 else nl + 1
    prev = first = parse_line(buf[head:pos].rstrip(b"\r\n").decode("utf-8", "replace"))
    if prev is None or first is None:
        return None
    count = 1
    while pos < end and count < 400:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl == -1 else nl + 1
        nxt = parse_line(buf[pos:line_end].rstrip(b"\r\n").decode("utf-8", "replace"))
        if nxt is None or not continues(first, prev, nxt):
            break
        prev, pos, count = nxt, line_end, count + 1
    return pos


def time_of(line: Line, now: datetime | None = None) -> str | None:
    if line.date is None or line.time is None:
        return None
    date = line.date
    if len(date) == 5:  # MM-DD: the scan's year, or the one before for a date that would be in the future
        now = now or datetime.now(timezone.utc)
        year = now.year
        try:
            if datetime.fromisoformat(f"{year}-{date}T00:00:00+00:00") > now + timedelta(days=1):
                year -= 1
        except ValueError:
            return None
        date = f"{year}-{date}"
    frac = line.time.split(".", 1)
    text = f"{date}T{frac[0]}.{frac[1][:6]}" if len(frac) == 2 else f"{date}T{line.time}"
    if line.zone == "UTC":
        text += "+00:00"
    elif line.zone:
        from agent_cli.detect.jsonlog import iso_to_utc

        return iso_to_utc(text + line.zone)
    return text


def split(lines: list[str]) -> tuple[str, str, str | None, list[str]] | None:
    """(level, tag, time, message lines without their prefixes) of a logcat record, else None."""
    parsed = [parse_line(t) for t in lines]
    head = parsed[0] if parsed else None
    if head is None or any(p is None for p in parsed):
        return None
    body = [p.msg for p in parsed if p is not None]
    level = LEVELS[head.prio]
    if head.tag == "AndroidRuntime" and head.msg.startswith("FATAL EXCEPTION"):
        level = "critical"  # the app crashed
    return level, head.tag, time_of(head), body
