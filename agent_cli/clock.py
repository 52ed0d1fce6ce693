"""The clock a run reads: real time in use, a fake one in tests that advances when told.

Windows (monitoring, cancel, approval expiry, business hours, rate limits, the post-fix
watch) are decided on `now()`; waits go through `sleep()`, so a test with a `FakeClock`
waits them out instantly. Record timestamps (`agent_cli.state.utcnow`) come from the
same clock, so what a test sees in the state agrees with the decisions taken.
Real-process tests (kill -9, locks, signals) keep real time: a child process always
starts on the system clock.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


class Clock:
    """Real time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def iso(self) -> str:
        return self.now().isoformat()


class FakeClock(Clock):
    """Time that moves only by `advance` or `sleep`, both instant; starts at `start` (default: now)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(timezone.utc)
        self._monotonic = 0.0
        self.slept = 0.0  # total seconds slept, for tests that check a wait happened

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


_current: Clock = Clock()


def current() -> Clock:
    """The clock this process runs on (a Run takes it when it starts)."""
    return _current


def use(clock: Clock) -> Clock:
    """Run this process on `clock` (tests); returns the one it replaces."""
    global _current
    previous, _current = _current, clock
    return previous
