"""Structured (JSON) log records: the fields each common logger writes, read into one shape.

Formats, as each logger writes them (checked against their own output where the logger runs here:
pino 10, pino-http 11, bunyan 2, winston 3, structlog 26, python-json-logger 4; from their
documentation otherwise: Go log/slog, zap, logrus):

| logger | level | message | error | time |
|---|---|---|---|---|
| pino, bunyan | `level` 10..60 | `msg` | `err` {type/name, message, stack} | `time` epoch ms (pino), ISO Z (bunyan) |
| pino-http | as pino | "request errored" / "request completed" | `err` (its own "failed with status code 500" when the app set none) | as pino |
| winston (json + errors()) | `level` "error" / "warn" | `message` | `stack` at the top, or `error` {message, stack} | `timestamp` ISO |
| structlog (JSONRenderer) | `level` | `event` | `exception`: traceback text, or a list of {exc_type, exc_value, frames} (dict_tracebacks) | `timestamp` ISO |
| python-json-logger | `levelname` | `message` | `exc_info` traceback text | `asctime` "2026-12-01 11:07:30,527", `timestamp` ISO +00:00 |
| Go slog (JSONHandler) | `level` "ERROR", "WARN", "INFO+2" | `msg` | `err` / `error` string | `time` RFC 3339 with offset, ns |
| zap (production) | `level` "error", "dpanic", "fatal" | `msg` | `error` string, `stacktrace` "pkg.Func\\n\\tfile.go:12" | `ts` epoch seconds (float) |
| logrus (JSONFormatter) | `level` "error", "warning", "panic" | `msg` | `error` string | `time` RFC 3339 with offset |

Also read: `severity` (Google Cloud: names and 100..800), `lvl`, `log.level` (ECS), OpenTelemetry's
`exception.type` / `exception.message` / `exception.stacktrace`, ECS `error.type` / `error.message` /
`error.stack_trace`, request fields (method, url/path, status, user, request id).

Nothing here does I/O. A value of the wrong kind where a logger writes a number or a string is left as
it is (or raises) so that the scan reports the record as poison instead of storing nonsense.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

_LEVEL_WORDS = {
    "TRACE": "debug", "DEBUG": "debug", "DBG": "debug", "DBUG": "debug", "VERBOSE": "debug", "SILLY": "debug", "FINE": "debug",
    "FINER": "debug", "FINEST": "debug", "V": "debug", "D": "debug", "T": "debug",
    "INFO": "info", "NOTICE": "info", "INF": "info", "HTTP": "info", "DEFAULT": "info", "INFORMATION": "info", "I": "info",
    "WARN": "warning", "WARNING": "warning", "WRN": "warning", "W": "warning",
    "ERROR": "error", "ERR": "error", "EROR": "error", "SEVERE": "error", "DPANIC": "error", "E": "error",
    "FATAL": "critical", "CRITICAL": "critical", "CRIT": "critical", "ALERT": "critical", "EMERG": "critical",
    "EMERGENCY": "critical", "PANIC": "critical", "F": "critical", "A": "critical",
}
# Go slog: DEBUG=-4 INFO=0 WARN=4 ERROR=8, written "INFO+2", "ERROR-1".
_SLOG_BASE = {"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8}
_SLOG_LEVEL = re.compile(r"^(DEBUG|INFO|WARN|ERROR)([+-]\d{1,3})$")
_PINO_LEVELS = {10: "debug", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical"}
_PY_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}
# Messages pino-http (and loggers shaped like it) write once a request is over: a summary, not an error of its own.
_HTTP_SUMMARY = re.compile(r"^request (?:errored|completed|failed|finished|aborted)\b", re.IGNORECASE)
_PINO_HTTP_OWN_ERROR = re.compile(r"^failed with status code \d{3}$")
# Go's time.Time.String(), which old logrus versions wrote: "2014-03-10 19:57:38.562264131 -0400 EDT".
_GO_TIME_STRING = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{4})(?: \w+)?$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def level_word(word: str) -> str:
    """`ERROR`, `warn`, `Warning`, slog's `INFO+4`: one of debug, info, warning, error, critical."""
    key = word.strip().upper()
    m = _SLOG_LEVEL.match(key)
    if m:
        n = _SLOG_BASE[m[1]] + int(m[2])
        return "error" if n >= 8 else "warning" if n >= 4 else "info" if n >= 0 else "debug"
    return _LEVEL_WORDS.get(key, "info")


def level_number(value: float, key: str) -> str:
    """A numeric level: pino/bunyan 10..60 under `level`, Python's levelno, Google Cloud's 100..800, syslog 0..7."""
    if not math.isfinite(value):
        raise ValueError(f"level {value!r} is not a finite number")
    n = int(value)
    if key == "levelno":
        return _PY_LEVELS.get(max(10, min(50, n // 10 * 10)), "info")
    if n >= 100:  # Google Cloud LogSeverity: DEBUG 100 .. EMERGENCY 800
        return ("debug", "info", "info", "warning", "error")[min(n // 100, 5) - 1] if n < 600 else "critical"
    if n >= 10:
        return _PINO_LEVELS.get(min(60, n // 10 * 10), "info")
    if n >= 0:  # syslog severities
        return "critical" if n <= 2 else "error" if n == 3 else "warning" if n == 4 else "info" if n <= 6 else "debug"
    return "debug"


def get(record: dict[str, Any], key: str) -> Any:
    """record[key], where a dotted key is either written flat (`"log.level"`) or nested (`{"log": {"level"}}`)."""
    if key in record:
        return record[key]
    if "." not in key:
        return None
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def first(record: dict[str, Any], *keys: str) -> tuple[str, Any]:
    """(key, value) of the first key with a value (not None, not empty)."""
    for key in keys:
        value = get(record, key)
        if value is not None and value != "":
            return key, value
    return "", None


def normalize_ts(value: Any) -> str | None:
    """A record's time as ISO 8601, in UTC when the record said which zone; None when it has none.

    Numbers are epoch times: seconds (zap, with a fraction), milliseconds (pino), microseconds or
    nanoseconds, told apart by size. Strings with an offset (`+02:00`, `-0500`, `Z`) become UTC;
    strings without one are kept (naive times are read as UTC later, as before). A value that is no
    time at all is kept as text, so that the store reports it instead of it being silently replaced.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _epoch(float(value))
    if not isinstance(value, str):
        return value  # type: ignore[no-any-return]  # an object where a time was expected: reported when stored
    text = value.strip()
    if re.fullmatch(r"\d{9,19}(?:\.\d+)?", text):
        return _epoch(float(text))
    m = _GO_TIME_STRING.match(text)
    if m:
        text = f"{m[1]}T{m[2]}{m[3] or ''}{m[4]}"
    return iso_to_utc(text)


def _epoch(n: float) -> str:
    if not math.isfinite(n):
        raise ValueError(f"time {n!r} is not a finite number")
    magnitude = abs(n)
    seconds = n if magnitude < 1e11 else n / 1e3 if magnitude < 1e14 else n / 1e6 if magnitude < 1e17 else n / 1e9
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def iso_to_utc(text: str) -> str:
    """An ISO 8601 time with an offset, converted to UTC; any other text comes back unchanged."""
    if not (text.endswith(("Z", "z")) or re.search(r"[+-]\d{2}:?\d{2}$", text[10:])):
        return text
    candidate = _FRACTION.sub(r"\1", text.replace(",", ".").replace(" ", "T", 1))
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        return text
    if when.tzinfo is None:
        return text
    return when.astimezone(timezone.utc).isoformat()


def _stack_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):  # Ruby-style backtrace arrays
        return "\n".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return None


def structlog_traceback(exceptions: list[Any]) -> str | None:
    """structlog's dict_tracebacks (`[{"exc_type", "exc_value", "frames": [{"filename", "lineno", "name"}]}]`) as a traceback.

    structlog lists the exception that propagated first, then its causes; the text is that first one,
    in Python's own layout, so it is read exactly as a traceback printed by Python is.
    """
    exc = exceptions[0] if exceptions and isinstance(exceptions[0], dict) else None
    if exc is None or "exc_type" not in exc:
        return None
    lines = ["Traceback (most recent call last):"]
    for frame in exc.get("frames") or []:
        if isinstance(frame, dict):
            lines.append(f'  File "{frame.get("filename", "?")}", line {frame.get("lineno", 0)}, in {frame.get("name", "?")}')
    value = exc.get("exc_value")
    lines.append(f"{exc['exc_type']}: {value}" if value not in (None, "") else str(exc["exc_type"]))
    return "\n".join(lines)


def zap_frames(stack: str) -> list[tuple[str, str, int]] | None:
    """(function, file, line) of zap's `stacktrace` ("pkg.Func\\n\\t/path/file.go:12\\n..."), else None."""
    lines = stack.split("\n")
    if len(lines) < 2 or not lines[1].startswith("\t"):
        return None
    out: list[tuple[str, str, int]] = []
    for func, pos in zip(lines[0::2], lines[1::2]):
        m = re.match(r"^\t(?P<file>\S.*?):(?P<line>\d+)$", pos)
        if not m or func.startswith(("\t", " ")):
            return None
        out.append((func.strip(), m["file"], int(m["line"])))
    return out or None


def error_of(record: dict[str, Any]) -> dict[str, Any]:
    """The error a record carries: type, message, stack text, code; empty values when it carries none."""
    info: dict[str, Any] = {"type": None, "message": None, "stack": None, "code": None}
    for key in ("err", "error", "exception", "exc_info", "exc", "throwable"):
        value = record.get(key)
        if value is None or value is False or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, dict):
            info["type"] = first(value, "type", "name", "kind", "class", "exc_type")[1]
            message = first(value, "message", "msg", "exc_value")[1]
            info["message"] = message if message is None or isinstance(message, str) else json.dumps(message)
            info["stack"] = _stack_text(first(value, "stack", "stacktrace", "stack_trace", "backtrace", "traceback")[1])
            code = value.get("code")
            info["code"] = code if isinstance(code, str) else None
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            info["stack"] = structlog_traceback(value)
        elif isinstance(value, str):
            if "\n" in value.strip():
                info["stack"] = value  # a traceback / stack as text (python-json-logger, structlog format_exc_info)
            elif key in ("err", "error", "exception"):
                info["message"] = value  # Go: slog "err", zap / logrus "error"
        else:
            continue
        break
    if info["type"] is None:
        info["type"] = first(record, "exc_type", "error.type", "error.kind", "exception.type", "exception_type", "error_type")[1]
    if info["message"] is None:
        message = first(record, "exc_message", "error.message", "exception.message", "exception_message", "error_message")[1]
        info["message"] = message if message is None or isinstance(message, str) else json.dumps(message)
    if info["stack"] is None:
        info["stack"] = _stack_text(first(record, "stack", "stack_trace", "stacktrace", "traceback", "error.stack_trace",
                                          "error.stack", "exception.stacktrace", "err.stack")[1])
    return info


def parse_json_record(record: dict[str, Any]) -> dict[str, Any]:
    """Fields of a structured log record: level, message, ts, stack text, error, request, user."""
    key, level_value = first(record, "level", "levelname", "severity", "lvl", "log.level", "log_level", "levelno", "loglevel")
    if isinstance(level_value, (int, float)) and not isinstance(level_value, bool):
        level = level_number(level_value, key)
    elif isinstance(level_value, str):
        level = level_word(level_value) if not level_value.strip().lstrip("-").isdigit() else level_number(float(level_value), key)
    else:
        level = "info"
    message = first(record, "message", "msg", "event", "@message", "error.message", "err.message")[1]
    message = "" if message is None else str(message)
    error = error_of(record)
    request: dict[str, Any] = {}
    path = first(record, "path", "url", "route", "uri", "request.path", "req.url", "request.url", "http.path", "http.url",
                 "http.target", "url.path", "request_uri")[1]
    method = first(record, "method", "request.method", "req.method", "http.method", "http.request.method")[1]
    status = first(record, "status", "status_code", "statusCode", "response.status", "response.statusCode", "res.statusCode",
                   "res.status", "http.status_code", "http.response.status_code")[1]
    if isinstance(path, str):
        request["path"] = path.split("?", 1)[0]
    if isinstance(method, str):
        request["method"] = method.upper()
    if isinstance(status, (int, str)) and not isinstance(status, bool) and str(status).isdigit():
        request["status"] = int(status)
    rid_key, rid = first(record, "req.id", "reqId", "requestId", "request_id", "req_id", "request.id", "http.request.id",
                         "req.headers.x-request-id", "x-request-id")
    if isinstance(rid, (str, int)) and not isinstance(rid, bool):
        if rid_key == "req.id" and isinstance(rid, int):
            # pino-http numbers requests per process: the process makes it unique.
            rid = f"{record.get('hostname', '')}/{record.get('pid', '')}/{rid}"
        request["request_id"] = str(rid)[:200]
    user = first(record, "user", "user_id", "userId", "uid", "usr.id", "user.id", "req.user.id")[1]
    if isinstance(user, dict):
        user = user.get("id") or user.get("email")
    summary = bool(_HTTP_SUMMARY.match(message)) or (
        isinstance(error["message"], str) and bool(_PINO_HTTP_OWN_ERROR.match(error["message"])) and error["type"] in (None, "Error"))
    return {
        "level": level,
        "message": message,
        "ts": normalize_ts(first(record, "timestamp", "time", "ts", "@timestamp", "asctime", "datetime", "date")[1]),
        "stack": error["stack"],
        "request": request,
        "user": None if user is None else str(user),
        "exception_type": error["type"],
        "exception_message": error["message"],
        "error_code": error["code"],
        "http_summary": summary,
    }
