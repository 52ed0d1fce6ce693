"""A mutating invocation: state opened, run lock held, run recorded, audit at hand."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agent_cli import audit
from agent_cli.config import Settings
from agent_cli.errors import AgentError
from agent_cli.lock import RunLock, describe_holder
from agent_cli.state import State, utcnow
from agent_cli.store import runs


@dataclass
class Run:
    settings: Settings
    state: State
    run_id: str
    command: str
    outcome: str = "ok"
    exit_code: int = 0
    llm_down: str | None = None  # set by the first LLM fallback of this run: later issues go offline without a call

    def conclude(self, exit_code: int, outcome: str) -> None:
        """The step's own verdict, recorded in `runs` when the lock is released (so `status` tells the truth)."""
        self.exit_code, self.outcome = exit_code, outcome

    def audit(self, *, step: str, decision: str, reason: str, issue_id: int | None = None, details: dict[str, Any] | None = None) -> int:
        return audit.record(
            self.state, step=step, decision=decision, reason=reason, issue_id=issue_id, details=details, run_id=self.run_id
        )


@contextmanager
def locked_run(settings: Settings, command: str, *, lock_timeout: float = 0,
               on_wait: Callable[[str], None] | None = None) -> Iterator[Run]:
    """Hold the run lock for one step. Raises LockHeld (exit 75) when another run has it (after `lock_timeout`)."""
    state = State.open(settings.state_path)
    lock = RunLock(settings.state_path)
    run_id = uuid.uuid4().hex[:12]
    try:
        stale = lock.acquire(command=command, run_id=run_id, timeout=lock_timeout, on_wait=on_wait)
    except BaseException:
        state.close()
        raise
    outcome, exit_code = "ok", 0
    run = Run(settings, state, run_id, command)
    try:
        runs.start(state, run_id, command, os.getpid(), socket.gethostname(), started_at=utcnow())
        if stale is not None:
            _repair_after_kill(run, stale)
        try:
            yield run
            outcome, exit_code = run.outcome, run.exit_code
            _drain(run)
        except AgentError as exc:
            outcome, exit_code = f"{type(exc).__name__}: {exc.message}"[:500], exc.exit_code
            _drain(run)  # what the step changed before it failed is still news
            raise
        except BaseException as exc:
            outcome, exit_code = f"crashed: {type(exc).__name__}", 1
            raise
        finally:
            runs.finish(state, run_id, outcome, exit_code, finished_at=utcnow())
    finally:
        lock.release()
        state.close()


def _drain(run: Run) -> None:
    """Every command that held the lock sends what its step recorded in the outbox (never raises)."""
    from agent_cli import outbox

    try:
        outbox.drain(run.state, run.settings, run.run_id)
    except Exception:  # noqa: BLE001 - notifying never fails a step; the events stay for the next command
        pass


def _repair_after_kill(run: Run, stale: dict[str, Any]) -> None:
    """The previous holder died holding the lock: close its run and audit the takeover."""
    with run.state.transaction():
        runs.close_killed(run.state, except_run_id=run.run_id, finished_at=utcnow())
        run.audit(step="lock", decision="takeover", reason=f"took over the run lock left by {describe_holder(stale)}", details=stale)
