"""Windows decided on the clock a process runs on: a fake one waits them out instantly and exactly."""

from __future__ import annotations

from pathlib import Path

from agent_cli import approvals
from agent_cli.clock import FakeClock
from agent_cli.state import State


def test_an_approval_expires_and_a_cancel_window_lapses_on_the_clock(tmp_path: Path, fake_clock: FakeClock) -> None:
    with State.open(tmp_path / "state.db") as state:
        asked, _ = approvals.request(state, issue_id=None, gate="deploy:staging", reason="P0", details={}, expires_in_s=24 * 3600, run_id=None)
        window, _ = approvals.request(state, issue_id=None, gate="cancel_window", reason="notify band", details={}, expires_in_s=3600, run_id=None)
        fake_clock.advance(3599)
        assert approvals.expire(state, run_id=None) == []  # one second before the window ends: nothing moves
        fake_clock.advance(2)
        assert [(r["id"], r["status"]) for r in approvals.expire(state, run_id=None)] == [(window["id"], "lapsed")]
        fake_clock.advance(23 * 3600)
        assert [(r["id"], r["status"]) for r in approvals.expire(state, run_id=None)] == [(asked["id"], "expired")]
        # What the state says agrees with the decision: the rows carry the clock's time.
        assert approvals.get(state, asked["id"])["decided_at"] == fake_clock.now().isoformat(timespec="microseconds")


def test_the_fake_clock_only_moves_when_told(fake_clock: FakeClock) -> None:
    start, mono = fake_clock.now(), fake_clock.monotonic()
    fake_clock.sleep(600)  # a ten-minute monitoring window, waited out instantly
    assert (fake_clock.now() - start).total_seconds() == 600 and fake_clock.monotonic() - mono == 600 and fake_clock.slept == 600
