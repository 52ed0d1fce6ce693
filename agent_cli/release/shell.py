"""The environment's own commands (deploy, status, rollback): trusted config, run with a timeout, never a terminal."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# The agent's own secrets are not the deploy script's business.
_NOT_PASSED = ("ANTHROPIC_", "AGENT_")
_TAIL = 4000


@dataclass
class Outcome:
    command: str
    exit_code: int | None  # None: timed out or could not start
    output: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        if self.timed_out:
            return f"`{self.command}` timed out after {self.duration_s:.0f}s"
        last = self.output.strip().splitlines()[-1:] if self.output.strip() else []
        return f"`{self.command}` exited {self.exit_code}" + (f": {last[0][:300]}" if last else "")


def expand(template: str, *, sha: str, branch: str, env: str) -> str:
    """The command with {sha} {branch} {env} filled in, each shell-quoted."""
    values = {"sha": shlex.quote(sha), "branch": shlex.quote(branch), "env": shlex.quote(env)}
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def run(command: str, *, cwd: Path, timeout_s: float, extra_env: dict[str, str] | None = None) -> Outcome:
    """`command` through the shell in `cwd`; on timeout it and everything it started are stopped as one group.

    Output goes to a file, not a pipe: a script that starts the app in the background and exits is done when it
    exits, even if the app keeps the inherited descriptor open.
    """
    import tempfile

    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_PASSED)}
    env.update(extra_env or {})
    started = time.monotonic()
    with tempfile.TemporaryFile() as sink:
        try:
            proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return Outcome(command, None, f"could not start: {exc.strerror or exc}", 0.0)
        timed_out = False
        try:
            proc.wait(timeout=max(timeout_s, 0.1))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        sink.seek(max(sink.seek(0, os.SEEK_END) - _TAIL, 0))
        output = sink.read().decode("utf-8", "replace")
    return Outcome(command, None if timed_out else proc.returncode, output, time.monotonic() - started, timed_out=timed_out)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=2)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()
