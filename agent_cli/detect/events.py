"""Events and the pure functions that read them out of log text.

Nothing here does I/O: a block of text (one log record, possibly a multi-line
stack trace) goes in, an Event comes out.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_cli.detect import logcat
from agent_cli.detect.jsonlog import iso_to_utc, level_word, parse_json_record, zap_frames
from agent_cli.detect.masking import template
from agent_cli.paths import is_vendored

LEVEL_RANK = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
RAW_LIMIT = 8192  # bytes of raw text kept per event


# A level word standing alone near the start of a line: "ERROR", "[error]", "level=warn", "<E>" not supported.
_TEXT_LEVEL = re.compile(
    r"(?:^|[\s\[|(<:=\"'])(?P<level>TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|SEVERE|FATAL|CRIT(?:ICAL)?|ALERT|EMERG(?:ENCY)?|PANIC)(?=$|[\s\]|)>:,\"'])",
    re.IGNORECASE,
)
_TIMESTAMP = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_JS_FRAME = re.compile(r"^\s*at (?:(?P<func>.+?) \()?(?P<file>(?:[a-z]+:/*)?[^()\s]+?):(?P<line>\d+)(?::(?P<col>\d+))?\)?\s*$")
# V8 code run by eval(): "at eval (eval at <anonymous> (file.js:1:2), <anonymous>:3:4)"; nested evals name the
# innermost real position last: that file, line and column are the frame (the eval'd code has no file of its own).
_JS_EVAL_FRAME = re.compile(r"^\s*at (?:(?P<func>.+?) )?\(eval at .*?\((?P<file>[^()\s]+?):(?P<line>\d+):(?P<col>\d+)\)")
# Dart errors whose toString() names no type: "Bad state: No element" (StateError), "Invalid argument(s): x" ...
_DART_UNTYPED = (
    (re.compile(r"^Bad state: (?P<msg>.*)$"), "StateError"),
    (re.compile(r"^Invalid argument(?:\(s\))?(?: \([^)]*\))?: (?P<msg>.*)$"), "ArgumentError"),
    (re.compile(r"^RangeError(?: \([^)]*\))?: (?P<msg>.*)$"), "RangeError"),
    (re.compile(r"^Unsupported operation: (?P<msg>.*)$"), "UnsupportedError"),
    (re.compile(r"^Concurrent modification during iteration: (?P<msg>.*)$"), "ConcurrentModificationError"),
    (re.compile(r"^(?P<msg>Null check operator used on a null value)$"), "TypeError"),
    (re.compile(r"^(?P<msg>type '.+' is not a subtype of type '.+'.*)$"), "TypeError"),
    (re.compile(r"^(?P<msg>Stack Overflow)$"), "StackOverflowError"),
    (re.compile(r"^(?P<msg>Out of Memory)$"), "OutOfMemoryError"),
    (re.compile(r"^Instance of '(?P<msg>[\w$<>, ]+)'$"), ""),  # a thrown object without toString: its class is the type
)
_JAVA_FRAME = re.compile(r"^\s*at (?P<func>[\w.$<>/]+)\((?P<file>[^():]+)(?::(?P<line>\d+))?\)\s*$")
# Any exception class: "Exception", "KeyError", "app.errors.Gone", "socket.timeout" (a lowercase name only when qualified).
_PY_EXC_LINE = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z_]\w*|(?:[A-Za-z_]\w*\.)+[a-z]\w*)(?::\s?(?P<msg>.*))?$")
_PY_TB = "Traceback (most recent call last)"
_PY_GROUP_TB = "Exception Group Traceback (most recent call last)"
# .NET: "   at Shop.Orders.Place(Int32 id) in /src/Shop/Orders.cs:line 42" (no " in ..." without debug symbols).
_DOTNET_FRAME = re.compile(r"^\s*at (?P<func>[^\s(]+\((?P<args>[^)]*)\))(?: in (?P<file>.+?):line (?P<line>\d+))?\s*$")
# Go: "panic: boom", "panic: x [recovered]", "http: panic serving 10.0.0.1:4242: boom", "fatal error: all goroutines are asleep".
_GO_PANIC = re.compile(r"(?:^|\s)(?:(?P<kind>panic|fatal error): |http: panic serving \S+?: )(?P<msg>.*?)(?: \[recovered\])?\s*$")
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:$")
_GO_FUNC = re.compile(r"^(?P<func>\S.*?)\((?:[^()]|\([^()]*\))*\)$")
_GO_POS = re.compile(r"^\t(?P<file>\S.*?):(?P<line>\d+)(?: \+0x[0-9a-f]+)?(?: fp=\S+ sp=\S+ pc=\S+)?$")
# PHP: "#0 /var/www/src/Api.php(30): App\\Order->place()", "#1 [internal function]: f()", "#2 {main}".
_PHP_FRAME = re.compile(r"^#\d+ (?:(?P<file>[^()\s][^()]*)\((?P<line>\d+)\)|\[internal function\]): (?P<func>.+?)(?:\(.*\))?$")
_PHP_UNCAUGHT = re.compile(r"Uncaught (?P<type>[A-Za-z_\\][\w\\]*)(?:: (?P<msg>.*?))? in (?P<file>\S+?):(?P<line>\d+)$")
# Dart: "#0      main (file:///app/bin/main.dart:5:3)".
_DART_FRAME = re.compile(r"^#\d+\s+(?P<func>.+?) \((?P<file>[^()\s]+?):(?P<line>\d+)(?::(?P<col>\d+))?\)$")
# Ruby: "/app/lib/orders.rb:12:in 'Orders#place'", "\tfrom app/api.rb:30:in `post'" (3.4 quotes 'x', older `x').
_RUBY_FRAME = re.compile(r"^\s*(?:from )?(?P<file>[^\s:]+):(?P<line>\d+):in [`'](?P<func>[^`']+)'(?:: (?P<msg>.*) \((?P<type>[A-Z][\w:]*)\))?$")
_RUBY_HEAD = re.compile(r"(?:^|\s)(?P<type>(?:[A-Z]\w*::)*[A-Z]\w*) \((?P<msg>.*)\):\s*$")
# Firefox / Safari: "getTeam@https://shop.example/app.js:11:25", "@debugger eval code:1:1", "global code@app.js:12:9".
_AT_SIGN_FRAME = re.compile(r"^(?P<func>[^@\s]*(?: code)?)@(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)$")
_GO_STDLIB = re.compile(r"/go(?:-[\d.]+)?/src/|/libexec/src/|/pkg/mod/")
_EXC_IN_TEXT = re.compile(r"(?:^|[\s:\[])(?P<type>(?:[A-Za-z_$][\w$]*\.)*[\w$]*(?:Error|Exception|Fault))(?::\s(?P<msg>.*)|$)")
_CAUSED_BY = re.compile(r"^Caused by: (?P<type>[\w.$]+)(?::\s?(?P<msg>.*))?$")
_REQUEST = re.compile(r"\b(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>/[^\s\"?]*)")
_STATUS = re.compile(r"(?:\bstatus(?:_code)?[=: ]+|\" )(?P<status>[1-5]\d\d)\b")
_USER = re.compile(r"\buser(?:_id|Id)?[=:]\s*\"?(?P<user>[\w.@+-]+)")
# Request ids in text lines: "request_id=abc", "req_id: 12", "requestId=..".
_REQUEST_ID = re.compile(r"\b(?:request[_-]?id|requestId|req_id|reqId)[=:]\s*\"?(?P<rid>[\w.:/-]{1,100})")
# Common / combined log format: 127.0.0.1 - - [01/Dec/2026:11:06:52 +0000] "GET /x HTTP/1.1" 500 ...
_ACCESS_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" [1-5]\d\d\b')
_CLF_TIME = re.compile(r"\[(?P<d>\d{2})/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<t>\d{2}:\d{2}:\d{2}) (?P<off>[+-]\d{4})\]")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
CHAIN_MARKERS = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)


# Languages whose stacks print the throw site first (Node/V8, Go, .NET, PHP, Ruby, Dart). Python prints it last. Java also prints it
# first but its `Caused by:` chains put the root cause further down; it keeps the old reading for now.
THROW_SITE_FIRST = ("js", "go", "dotnet", "php", "ruby", "dart")
_JS_FILE = re.compile(r"\.(?:[cm]?[jt]sx?)$|^node:|^file://")


@dataclass
class Frame:
    file: str
    line: int | None
    function: str
    in_app: bool
    lang: str = ""  # python | js | java | dotnet | go: how its stack is ordered
    column: int | None = None
    mapped_from: str | None = None  # "dist/index.js:259:23": the built position a source map turned into this one
    excluded: str | None = None  # why an in-repo frame is not in-app (gitignored build output)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Frame:
        """A stored frame; one stored before frames had a language gets it from its file name."""
        lang = d.get("lang")
        if lang is None:
            file = str(d.get("file") or "")
            lang = "js" if _JS_FILE.search(file) else "java" if file.endswith((".java", ".kt", ".scala", ".groovy")) else "python"
        return cls(file=str(d.get("file") or ""), line=d.get("line"), function=str(d.get("function") or ""), in_app=bool(d.get("in_app")),
                   lang=lang, column=d.get("column"), mapped_from=d.get("mapped_from"), excluded=d.get("excluded"))


def throw_site_first(frames: list[Frame]) -> list[Frame]:
    """The frames from the deepest (where it was thrown) outwards, whatever order the language prints them in."""
    if frames and frames[0].lang in THROW_SITE_FIRST:
        return list(frames)
    return list(reversed(frames))


def build_output_reason(frames: list[Frame]) -> str | None:
    """Why a trace has no in-app frame when its only in-repo frames are gitignored build output, else None."""
    if any(f.in_app for f in frames):
        return None
    excluded = [f.excluded for f in throw_site_first(frames) if f.excluded]
    return f"the trace's only in-repo frames are {excluded[0]}" if excluded else None


@dataclass
class Event:
    source: str
    level: str
    message: str
    raw: str
    ts: str | None = None
    path: str | None = None
    line: int | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    frames: list[Frame] = field(default_factory=list)
    request: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    kind: str = "log"  # log | probe | test
    # An HTTP logger's line written once a request is over (pino-http "request errored", an access line):
    # it belongs to the error of its request, when there is one (see detect.linking.one_failure_once).
    http_summary: bool = False
    # A typed JSON error without a stack groups on the record's own message, as fingerprint v2 always did
    # (so existing issues keep their fingerprint); its title still shows the error's own message.
    group_on_message: bool = False
    # Set by grouping:
    fingerprint: str = ""
    template: str = ""
    severity: str = ""
    severity_rule: str = ""

    @property
    def title(self) -> str:
        if self.exception_type and self.group_on_message and self.exception_message:
            return f"{self.exception_type}: {template(self.exception_message)}"
        if self.exception_type:
            return f"{self.exception_type}: {self.template}" if self.template else self.exception_type
        return self.template or self.message[:200]

    @property
    def grouping_text(self) -> str:
        """What the template is made of: the exception's own message when there is one."""
        if self.group_on_message:
            return self.message
        return self.exception_message if self.exception_type and self.exception_message else self.message

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["frames"] = [f.as_dict() for f in self.frames]
        return d


def level_at_least(level: str, minimum: str) -> bool:
    return LEVEL_RANK.get(level, 0) >= LEVEL_RANK[minimum]


def _level_word(word: str) -> str:
    return level_word(word)


def parse_frames(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for text in lines:
        m = _PY_FRAME.match(text)
        if m:
            frames.append(Frame(m["file"], int(m["line"]), (m["func"] or "<module>").strip(), not is_vendored(m["file"]), "python"))
            continue
        m = _JAVA_FRAME.match(text)
        if m and m["file"].endswith((".java", ".kt", ".scala", ".groovy")):
            func = m["func"]
            vendored = func.startswith(("java.", "javax.", "sun.", "jdk.", "kotlin.", "scala.", "android.", "androidx.", "com.android.",
                                        "dalvik.", "libcore.", "com.google.android."))
            frames.append(Frame(m["file"], int(m["line"]) if m["line"] else None, func, not vendored, "java"))
            continue
        m = _DOTNET_FRAME.match(text) if "at " in text and ")" in text else None
        if m and not re.search(r"^(?:Native Method|Unknown Source)$|\.(?:java|kt|scala|groovy)", m["args"]):
            func = m["func"].split("(", 1)[0]
            vendored = func.startswith(("System.", "Microsoft."))
            frames.append(Frame(m["file"] or "", int(m["line"]) if m["line"] else None, func, not vendored, "dotnet"))
            continue
        m = _DART_FRAME.match(text) if text.startswith("#") else None
        if m:
            file = m["file"]
            frames.append(Frame(file, int(m["line"]), m["func"], not file.startswith(("dart:", "package:flutter/")), "dart",
                                int(m["col"]) if m["col"] else None))
            continue
        m = _RUBY_FRAME.match(text) if ":in " in text else None
        if m:
            file = m["file"]
            vendored = is_vendored(file) or "/gems/" in file or file.startswith("<internal:")
            frames.append(Frame(file, int(m["line"]), m["func"], not vendored, "ruby"))
            continue
        m = _AT_SIGN_FRAME.match(text) if "@" in text else None
        if m:
            frames.append(Frame(m["file"], int(m["line"]), m["func"] or "<anonymous>", not is_vendored(m["file"]), "js", int(m["col"])))
            continue
        m = _JS_EVAL_FRAME.match(text) if "(eval at " in text else None
        if m:
            func = (m["func"] or "eval").strip()
            frames.append(Frame(m["file"], int(m["line"]), func, not is_vendored(m["file"]), "js", int(m["col"])))
            continue
        m = _JS_FRAME.match(text)
        if m:
            func = (m["func"] or "<anonymous>").strip()
            frames.append(Frame(m["file"], int(m["line"]), func, not is_vendored(m["file"]), "js", int(m["col"]) if m["col"] else None))
    return frames


def python_group_lines(lines: list[str]) -> list[str]:
    """A traceback whose last exception is an ExceptionGroup, with the group's own box unwrapped.

    `  + Exception Group Traceback ...` / `  |   File ...` / `  | ExceptionGroup: msg (2 sub-exceptions)` become a
    plain traceback; the sub-exceptions (`+-+---- 1 ----` and deeper) are left out. Other text is returned as is.
    """
    start = next((i for i, t in enumerate(lines) if _PY_GROUP_TB in t), None)
    if start is None:
        return lines
    margin = lines[start].index(_PY_GROUP_TB) - 2
    if margin < 0 or lines[start][margin] != "+":
        return lines
    out = lines[:start] + [_PY_TB + ":"]
    for text in lines[start + 1:]:
        if len(text) <= margin or text[:margin].strip() or text[margin] != "|":
            break
        out.append(text[margin + 2:])
    return out


def _python_exception(lines: list[str]) -> tuple[str | None, str | None]:
    """The last exception line of a Python traceback (the one that propagated)."""
    seen_traceback = False
    found: tuple[str | None, str | None] = (None, None)
    for text in lines:
        if _PY_TB in text:  # also after a log prefix: "ERROR app: Traceback (most recent call last):"
            seen_traceback = True
            continue
        if seen_traceback and text and not text[0].isspace():
            m = _PY_EXC_LINE.match(text.strip())
            if m:
                found = (m["type"], (m["msg"] or "").strip())
    return found


def python_traceback_complete(lines: list[str]) -> bool:
    """A Python traceback is complete once an exception line follows its last frame."""
    if not any(_PY_TB in t for t in lines):
        return True
    last = next((t for t in reversed(lines) if t.strip()), "")
    if any(_PY_GROUP_TB in t for t in lines):
        return bool(re.match(r"^\s*\+-+$", last))  # the group's box is closed
    return bool(last and not last[0].isspace() and _PY_EXC_LINE.match(last.strip()) and _PY_TB not in last)


def php_uncaught(lines: list[str]) -> tuple[str, str, list[Frame]] | None:
    """(type, message, frames) of PHP's "Uncaught X: msg in file:line" + "Stack trace:" + "#0 file(9): f()".

    PHP's `#N file(line): f()` says where f was called from, so each position is paired with the function of
    the line below it; the throw site (the header's file:line) is the first frame, in the #0 line's function.
    """
    m = next((m for m in (_PHP_UNCAUGHT.search(t) for t in lines[:3]) if m), None)
    if m is None:
        return None
    calls = [c for c in (_PHP_FRAME.match(t) for t in lines) if c]
    positions = [(m["file"], int(m["line"]))] + [(c["file"] or "", int(c["line"]) if c["line"] else None) for c in calls]
    functions = [c["func"] for c in calls] + ["{main}"]
    frames = []
    for (file, line), func in zip(positions, functions):
        if func == "{main}" and file == "" and line is None:
            continue
        frames.append(Frame(file, line, func, bool(file) and not is_vendored(file), "php"))
    return m["type"], (m["msg"] or "").strip(), frames


def go_panic(lines: list[str]) -> tuple[str, str, list[Frame]] | None:
    """("panic", message, frames of the panicking goroutine) of a Go panic or fatal error, else None."""
    header = None
    for i, text in enumerate(lines):
        if _GO_GOROUTINE.match(text):
            break
        m = _GO_PANIC.search(text)
        if m:
            header = m  # the last panic line before the goroutines is the one that propagated
    else:
        return None
    if header is None:
        return None
    frames: list[Frame] = []
    body = lines[i + 1:]
    for j, text in enumerate(body):
        if not text.strip():
            break  # the next goroutine
        m = _GO_FUNC.match(text)
        pos = _GO_POS.match(body[j + 1]) if m and j + 1 < len(body) else None
        if m and pos and not text.startswith("created by "):
            func, file = m["func"], pos["file"]
            vendored = func == "panic" or func.startswith(("runtime.", "net/http.", "sync.", "testing.")) or bool(_GO_STDLIB.search(file))
            frames.append(Frame(file, int(pos["line"]), func, not vendored and not is_vendored(file), "go"))
    return header["kind"] or "panic", header["msg"].strip(), frames


def _strip_prefix(head: str, level_match: re.Match[str] | None) -> str:
    """The message part of a text log line: after the level word and a logger name.

    Whatever stands before a level word near the start (timestamp, host, pid)
    is layout, not message.
    """
    if level_match is not None and level_match.start("level") <= 80:
        rest = head[level_match.end("level"):].lstrip(" ]|:>-")
        # "ERROR app.views: msg" / "ERROR [app.views] msg"
        m = re.match(r"^(?:\[[^\]]{1,80}\]|[\w.$-]{1,80}:)\s+(.*)$", rest)
        return (m.group(1) if m else rest).strip()
    return head.strip()


def _js_exception_message(exc_type: str, field_value: Any, stack_lines: list[str]) -> str | None:
    if isinstance(field_value, str) and field_value:
        return field_value.strip()
    for text in stack_lines[:6]:  # "TypeError: Cannot read properties of undefined (reading 'name')"
        if text.startswith(exc_type + ":"):
            return text[len(exc_type) + 1:].strip()
    return None


def _json_message(message: str, exc_type: Any, exc_message: Any, code: Any) -> str:
    """The event message of a JSON record: its own message, completed by an untyped error's text.

    Go loggers write `{"msg": "fetch failed", "error": "dial tcp: connection refused"}`: both say what
    happened. A typed error (pino, bunyan) keeps the record's message here; its type and message are the
    exception's and make the title. An error with only a Node `code` (bunyan without serializers) adds the code.
    """
    if exc_type:
        return message or (exc_message if isinstance(exc_message, str) else "")
    extra = exc_message if isinstance(exc_message, str) and exc_message else code if isinstance(code, str) else None
    if not extra or extra in message:
        return message
    return f"{message}: {extra}" if message else extra


def _text_time(head: str) -> str | None:
    """The time at the start of a text line: ISO (offsets converted to UTC) or an access log's [01/Dec/2026:11:06:52 +0000]."""
    m = _TIMESTAMP.search(head[:64])
    if m:
        return iso_to_utc(m["ts"])
    m = _CLF_TIME.search(head[:200]) if "/" in head[:200] else None
    if m and m["mon"] in _MONTHS:
        text = f"{m['y']}-{_MONTHS[m['mon']]:02d}-{m['d']}T{m['t']}{m['off']}"
        return iso_to_utc(text)
    return None


def _go_frame(func: str, file: str, line: int) -> Frame:
    vendored = func.startswith(("runtime.", "net/http.", "sync.", "testing.", "go.uber.org/zap")) or bool(_GO_STDLIB.search(file)) \
        or "@v" in file
    return Frame(file, line, func, not vendored and not is_vendored(file), "go")


def _logcat_event(found: tuple[str, str, str | None, list[str]], raw: str, source: str) -> Event:
    """An Android logcat record: its messages (prefixes taken off) read as text, level and time from logcat."""
    level, tag, ts, body = found
    event = parse_block("\n".join(body), source=source, fmt="text")
    event.raw, event.level, event.ts = raw, level, ts
    if event.exception_type:  # "FATAL EXCEPTION: main" says less than the exception under it
        event.message = f"{event.exception_type}: {event.exception_message}" if event.exception_message else event.exception_type
    elif tag:
        event.message = f"{tag}: {event.message}"[:2000]
    return event


def _dart_untyped(text: str) -> tuple[str | None, str | None]:
    """(type, message) of a Dart error whose message names no type; (None, None) for a thrown string."""
    for pattern, name in _DART_UNTYPED:
        m = pattern.match(text)
        if m:
            return (name, m["msg"]) if name else (m["msg"], "")
    return None, None


def _maybe_exception(text: str) -> bool:
    return "rror" in text or "xception" in text or "Fault" in text


def parse_block(text: str, *, source: str, fmt: str = "auto") -> Event:
    """One log record (first line plus its continuation lines) to an Event."""
    raw = text[:RAW_LIMIT]
    lines = text.split("\n")
    head = lines[0]
    if fmt != "json" and logcat.maybe_logcat(head):
        found = logcat.split(lines)
        if found is not None:
            return _logcat_event(found, raw, source)
    record: dict[str, Any] | None = None
    if fmt != "text" and head.lstrip().startswith("{"):
        try:
            parsed = json.loads(head)
            record = parsed if isinstance(parsed, dict) else None
        except ValueError:
            record = None  # a truncated JSON line is read as text
    level_match: re.Match[str] | None = None
    summary = False
    if record is not None:
        fields = parse_json_record(record)
        level, message, ts = fields["level"], fields["message"], fields["ts"]
        stack_lines = (fields["stack"] or "").split("\n") + lines[1:]
        request, user = fields["request"], fields["user"]
        exc_type = fields["exception_type"]
        summary = fields["http_summary"]
        message = _json_message(message, exc_type, fields["exception_message"], fields["error_code"])
    else:
        level_match = _TEXT_LEVEL.search(head[:200])
        level = _level_word(level_match["level"]) if level_match else "info"
        message = _strip_prefix(head, level_match)
        ts = _text_time(head)
        stack_lines = lines
        request = {}
        # Cheap substring checks first: these regexes run for every event.
        m = _REQUEST.search(head) if " /" in head else None
        if m:
            request = {"method": m["method"], "path": m["path"]}
        m = _STATUS.search(head) if ("status" in head or '" ' in head) else None
        if m:
            request["status"] = int(m["status"])
        m = _USER.search(head) if ("user" in head or "User" in head) else None
        user = m["user"] if m else None
        m = _REQUEST_ID.search(head) if "equest" in head or "req_id" in head else None
        if m:
            request["request_id"] = m["rid"]
        summary = '" ' in head and bool(_ACCESS_LINE.search(head))
        exc_type = None
    if len(stack_lines) > 1 and any(_PY_GROUP_TB in t for t in stack_lines):
        stack_lines = python_group_lines(stack_lines)
    frames = parse_frames(stack_lines) if len(stack_lines) > 1 else []
    if not frames and record is not None and fields["stack"]:
        zap = zap_frames(fields["stack"])
        frames = [_go_frame(func, file, line) for func, file, line in zap] if zap else []
    py_type, py_msg = _python_exception(stack_lines) if len(stack_lines) > 1 else (None, None)
    go = go_panic(stack_lines) if record is None and len(stack_lines) > 2 and "goroutine " in text else None
    if not go and record is None and "Uncaught " in head:
        go = php_uncaught(stack_lines)
    exc_msg: str | None = None
    special = False  # typed here from a runtime's own header (Ruby, Dart)
    if go:
        exc_type, exc_msg, frames = go
        special = True
    elif record is None and frames and frames[0].lang == "ruby":
        m = _RUBY_HEAD.search(head) or _RUBY_HEAD.match(stack_lines[1])
        first_frame = _RUBY_FRAME.match(stack_lines[0])
        if m:  # Rails: "ActiveRecord::RecordNotFound (Couldn't find Order with 'id'=42):"
            exc_type, exc_msg, special = m["type"], m["msg"], True
        elif first_frame and first_frame["type"]:  # uncaught: "app.rb:12:in 'place': no stock (RuntimeError)"
            exc_type, exc_msg, special = first_frame["type"], first_frame["msg"], True
    elif record is None and frames and frames[0].lang == "dart" and head.rstrip().endswith("Unhandled exception:"):
        dm = re.match(r"^(?P<type>[A-Za-z_$][\w$<>,]*): (?P<msg>.*)$", stack_lines[1])
        exc_type, exc_msg = (dm["type"], dm["msg"]) if dm else _dart_untyped(stack_lines[1].strip())
        message, special = stack_lines[1].strip(), True
    if special:
        pass
    elif py_type:
        exc_type, exc_msg = py_type, py_msg
    elif record is not None and exc_type:
        # pino's err serializer: {"type", "message", "stack"}; the record's own msg ("request failed") is not the error.
        exc_msg = _js_exception_message(str(exc_type), fields["exception_message"], stack_lines)
    elif not exc_type and _maybe_exception(text[:4000]):
        m = _EXC_IN_TEXT.search(message if record is not None else head)
        if m and (frames or m.start("type") <= 1 or record is None):
            exc_type, exc_msg = m["type"], (m["msg"] or "").strip()
        else:
            # Java / JS: the exception header stands on its own line under the log line.
            for candidate in stack_lines[:6]:
                m = _EXC_IN_TEXT.match(candidate.removeprefix("Caused by: ")) if candidate[:1] not in (" ", "\t") else None
                if m:
                    exc_type, exc_msg = m["type"], (m["msg"] or "").strip()
                    break
    # A bare stack trace (no level word) is an unhandled error.
    if level == "info" and record is None and level_match is None and (py_type or special or (exc_type and frames)):
        level = "error"
    if exc_type and exc_msg is not None and (not message or message.startswith(("Traceback", exc_type)) or _PY_GROUP_TB in message):
        message = f"{exc_type}: {exc_msg}" if exc_msg else exc_type
    if exc_type and exc_msg is None and message.startswith(exc_type + ":"):
        exc_msg = message[len(exc_type) + 1:].strip()
    if not message and exc_type:
        message = exc_type
    group_on_message = bool(record is not None and exc_type and not frames and not py_type)
    return Event(
        source=source,
        level=level,
        message=message[:2000],
        raw=raw,
        ts=ts if ts is None or isinstance(ts, str) else str(ts),
        http_summary=summary,
        group_on_message=group_on_message,
        exception_type=exc_type,
        exception_message=exc_msg[:2000] if exc_msg else None,
        frames=frames[:100],
        request=request,
        user_id=user,
    )
