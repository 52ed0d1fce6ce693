"""The run lock: one mutating run at a time per state file.

An OS file lock (filelock, flock on POSIX) does the exclusion, so a process
killed with -9 releases it with no cleanup. A small JSON file beside it says
who holds it; finding that file when we take the lock means the last holder
died without releasing, which the caller audits as a takeover.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from agent_cli.errors import LockHeld
from agent_cli.state import utcnow


@dataclass
class RunLock:
    state_path: Path

    def __post_init__(self) -> None:
        self.lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        self.info_path = self.state_path.with_name(self.state_path.name + ".lock.json")
        self._lock = FileLock(str(self.lock_path), thread_local=False)

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def acquire(self, *, command: str, run_id: str, timeout: float = 0, on_wait: Callable[[str], None] | None = None) -> dict[str, Any] | None:
        """Take the lock or raise LockHeld. Returns the stale holder it replaced, if any.

        With a `timeout`, a lock that is held says so once through `on_wait` (who holds it) before the wait.
        """
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                self._lock.acquire(timeout=0, poll_interval=0.05)
            except Timeout:
                if timeout <= 0:
                    raise
                if on_wait is not None:
                    on_wait(f"waiting up to {timeout:g}s for the run lock: {describe_holder(self.holder())}")
                self._lock.acquire(timeout=timeout, poll_interval=0.05)
        except Timeout:
            raise LockHeld(f"another run holds the lock {self.lock_path}: {describe_holder(self.holder())}") from None
        stale = self.holder()
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow(), "command": command, "run_id": run_id}
        tmp = self.info_path.with_name(self.info_path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.info_path)
        return stale

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        try:
            self.info_path.unlink()
        except FileNotFoundError:
            pass
        self._lock.release()


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "holder unknown (it is starting up)"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')} (agent {holder.get('command')})"
