"""Severity P0-P4: the user's [[severity.rules]] first, then the default ladder.

Every decision names its rule (`severity.rules[2]`, `default:endpoint-down`, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent_cli.config import SEVERITIES, SeverityRule
from agent_cli.detect.events import Event

P1_EVENTS_PER_5MIN = 10
P1_USERS = 10
_DB_DOWN = re.compile(
    r"could not connect to (?:server|database)|database (?:is )?(?:unavailable|unreachable|down)|"
    r"ECONNREFUSED|connection refused|too many connections|no route to host",
    re.IGNORECASE,
)
RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


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


def classify(event: Event, rules: list[SeverityRule]) -> Verdict:
    """Severity of one event, without frequency (see `escalate`)."""
    subject = _subject(event)
    for index, rule in enumerate(rules):
        if rule.source and rule.source != event.source:
            continue
        if _compiled(rule.pattern).search(subject):
            return Verdict(rule.severity, f"severity.rules[{index}]")
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


def escalate(current: Verdict, *, is_5xx_api: bool, events_per_5min: int, users: int) -> Verdict:
    """Busy 5xx on an API path is P1 (unless a rule or the ladder already says worse)."""
    if is_5xx_api and (events_per_5min > P1_EVENTS_PER_5MIN or users > P1_USERS) and RANK[current.severity] > 1:
        why = f"{events_per_5min} events in 5 min" if events_per_5min > P1_EVENTS_PER_5MIN else f"{users} users"
        return Verdict("P1", f"default:busy-5xx-api ({why})")
    return current


def is_5xx_api(event: Event) -> bool:
    status = event.request.get("status")
    path = event.request.get("path") or ""
    return isinstance(status, int) and status >= 500 and "/api" in path
