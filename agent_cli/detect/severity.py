"""Severity P0-P4: the user's [[severity.rules]] first, then the default ladder.

Every decision names its rule (`severity.rules[2]`, `default:endpoint-down`, ...).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from agent_cli.config import SEVERITIES, SeverityRule
from agent_cli.detect.events import Event

P1_EVENTS_PER_5MIN = 10
P1_USERS = 10
P1_PATHS_PER_5MIN = 5  # this many distinct request paths failing with 5xx in 5 minutes: the site is down, not one page
BUSY_WINDOW = timedelta(minutes=5)
CLIENT_ERROR_RULE = "default:client-error"
_DB_DOWN = re.compile(
    r"could not connect to (?:server|database)|database (?:is )?(?:unavailable|unreachable|down)|"
    r"ECONNREFUSED|connection refused|too many connections|no route to host",
    re.IGNORECASE,
)
RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}

# Framework lines that name the failed request without an access-log layout.
# Flask: "Exception on /items/3 [GET]" (always answered 500).
_FLASK_REQUEST = re.compile(r"\bException on (?P<path>/[^\s\[?]*)\S* \[(?P<method>[A-Z]+)\]")
# Django's django.request logger: "Internal Server Error: /items/3", "Not Found: /favicon.ico".
_PHRASE_STATUS = {status.phrase: int(status) for status in HTTPStatus if status >= 400}
_DJANGO_REQUEST = re.compile(r"(?:^|[\s:])(?P<phrase>" + "|".join(map(re.escape, _PHRASE_STATUS)) + r"): (?P<path>/[^\s?]*)")


@dataclass(frozen=True)
class Verdict:
    severity: str
    rule: str


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _subject(event: Event) -> str:
    """What rules match against: exception type, log message and exception message."""
    return f"{event.exception_type or ''}: {event.message}\n{event.exception_message or ''}"


def _rule_verdict(event: Event, rules: list[SeverityRule]) -> Verdict | None:
    subject = _subject(event)
    for index, rule in enumerate(rules):
        if rule.source and rule.source != event.source:
            continue
        if _compiled(rule.pattern).search(subject):
            return Verdict(rule.severity, f"severity.rules[{index}]")
    return None


def classify(event: Event, rules: list[SeverityRule]) -> Verdict:
    """Severity of one event, without frequency (see `escalate`)."""
    by_rule = _rule_verdict(event, rules)
    if by_rule is not None:
        return by_rule
    subject = _subject(event)
    if event.kind == "probe" and event.request.get("down"):
        return Verdict("P0", "default:endpoint-down")
    if event.level in ("error", "critical") and _DB_DOWN.search(subject):
        return Verdict("P0", "default:database-unreachable")
    if event.level in ("error", "critical") and event.exception_type:
        return Verdict("P2", "default:unhandled-exception")
    if event.kind == "probe" or event.kind == "test":
        return Verdict("P2", f"default:{event.kind}-failure")
    if event.level in ("error", "critical", "warning"):
        return Verdict("P3", "default:warning-or-handled-error")
    return Verdict("P4", "default:info")


def request_from_message(message: str) -> dict[str, Any]:
    """Method, path and status named by a framework's error line, e.g. Flask's `Exception on /x [GET]` (a 500).

    Empty when the message names no request. Meant for the event parser (`request` of a text line);
    `request_of` falls back on it meanwhile.
    """
    if "Exception on /" in message:
        m = _FLASK_REQUEST.search(message)
        if m:
            return {"method": m["method"], "path": m["path"], "status": 500}
    if ": /" in message:
        m = _DJANGO_REQUEST.search(message)
        if m:
            return {"path": m["path"], "status": _PHRASE_STATUS[m["phrase"]]}
    return {}


def request_of(event: Event) -> dict[str, Any]:
    """The event's request: what the parser found, completed from a framework line in the message."""
    if event.kind != "log":
        return event.request
    found = request_from_message(event.message)
    return {**found, **event.request} if found else event.request


def _url_path(path: str) -> str:
    return urlsplit(path).path if "://" in path else path


def is_5xx_api(event: Event, api_prefixes: Sequence[str] = ()) -> bool:
    """A request answered 5xx on a watched path: any path, or one under `[severity] api_prefixes` when set."""
    request = request_of(event)
    status, path = request.get("status"), request.get("path")
    if not (isinstance(status, int) and status >= 500):
        return False
    if not api_prefixes:
        return True
    return isinstance(path, str) and _url_path(path).startswith(tuple(api_prefixes))


def peak_paths_5min(events: Sequence[Event], times: Sequence[datetime], api_prefixes: Sequence[str] = ()) -> int:
    """The most distinct request paths failing with 5xx (on watched paths) within any 5 minutes of these events."""
    hits = sorted(
        (when, path)
        for event, when in zip(events, times, strict=True)
        if is_5xx_api(event, api_prefixes) and isinstance(path := request_of(event).get("path"), str)
    )
    window: Counter[str] = Counter()
    peak, start = 0, 0
    for when, path in hits:
        window[path] += 1
        while hits[start][0] <= when - BUSY_WINDOW:
            old = hits[start][1]
            window[old] -= 1
            if not window[old]:
                del window[old]
            start += 1
        peak = max(peak, len(window))
    return peak


def escalate(current: Verdict, *, is_5xx_api: bool, events_per_5min: int, users: int, paths_per_5min: int = 0) -> Verdict:
    """Busy 5xx on a watched path is P1 (unless a rule or the ladder already says worse).

    Busy: more than P1_EVENTS_PER_5MIN events or P1_USERS users, or P1_PATHS_PER_5MIN distinct paths in 5 minutes.
    """
    if not is_5xx_api or RANK[current.severity] <= RANK["P1"]:
        return current
    if paths_per_5min >= P1_PATHS_PER_5MIN:
        why = f"{paths_per_5min} paths in 5 min"
    elif events_per_5min > P1_EVENTS_PER_5MIN:
        why = f"{events_per_5min} events in 5 min"
    elif users > P1_USERS:
        why = f"{users} users"
    else:
        return current
    return Verdict("P1", f"default:busy-5xx-api ({why})")


def not_an_issue(event: Event, rules: list[SeverityRule]) -> str | None:
    """The rule by which this event raises no issue, or None when it is one.

    A 4xx access line (a log line whose request was answered 400-499, with no exception or stack)
    is the client's mistake, not the application's; a [[severity.rules]] entry matching it makes it one.
    """
    if event.kind != "log" or event.exception_type or event.frames:
        return None
    status = request_of(event).get("status")
    if not (isinstance(status, int) and 400 <= status < 500):
        return None
    if _rule_verdict(event, rules) is not None:
        return None
    return f"{CLIENT_ERROR_RULE} (HTTP {status})"
