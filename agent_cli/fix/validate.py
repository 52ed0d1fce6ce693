"""Validation commands (type checks, tests) with timeouts, and what counts as a new failure.

Each command runs in its own process group so a timeout kills everything it
started. Failures are read from the output where the tool says which test or
file failed (the parsers in `failures.py`: pytest, tsc, eslint, mypy, pyright,
ruff, jest, vitest, mocha, node:test, go test), so a failure the unmodified
base already had does not block.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.fix.failures import failure_text, failures_in, first_failing_lines
from agent_cli.sandbox import Sandbox

__all__ = ["CommandResult", "blocking", "expand", "failure_text", "failures_in", "first_failing_lines", "kill_group", "run_command"]

OUTPUT_TAIL_CHARS = 6000
FAILURES_VERSION = 3  # part of the baseline cache key: a cached baseline read by older parsers is not reused


@dataclass
class CommandResult:
    command: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    output_tail: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CommandResult":
        return cls(**data)


def run_command(command: str, cwd: Path, timeout_s: float, sandbox: Sandbox, *,
                on_start: Callable[[int], None] | None = None) -> CommandResult:
    """`command` in `cwd`, inside `sandbox` with its scrubbed environment, killed as a group at the timeout."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as sink, tempfile.TemporaryDirectory(prefix="agent-validate-") as private:
        argv, env = sandbox.command(command, cwd, Path(private))
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills the whole tree
        )
        if on_start is not None:
            on_start(proc.pid)
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc.pid)
            proc.wait()
        size = sink.seek(0, os.SEEK_END)
        sink.seek(max(0, size - OUTPUT_TAIL_CHARS * 4))
        read = sink.read().decode("utf-8", "replace")  # failures are read from more than the tail that is kept
    output = read[-OUTPUT_TAIL_CHARS:]
    if timed_out:
        output += f"\n[agent] killed after {timeout_s:g}s timeout"
    return CommandResult(command, None if timed_out else proc.returncode, timed_out, round(time.monotonic() - started, 3),
                         output, failures_in(read, root=str(cwd)))


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def expand(command: str, files: list[str]) -> str:
    return command.replace("{files}", " ".join(shlex.quote(f) for f in files))


def blocking(baseline: list[CommandResult], after: list[CommandResult]) -> list[str]:
    """Reasons the change fails validation: only what the baseline did not already have."""
    reasons = []
    before = {r.command: r for r in baseline}
    for result in after:
        if result.ok:
            continue
        base = before.get(result.command)
        if result.timed_out:
            reasons.append(f"`{result.command}` timed out")
            continue
        if base is None or base.ok:
            detail = ", ".join(result.failures[:10]) or f"exit {result.exit_code}"
            reasons.append(f"`{result.command}` failed: {detail}")
            continue
        new = sorted(set(result.failures) - set(base.failures))
        if new:
            reasons.append(f"`{result.command}` has new failures: {', '.join(new[:10])}")
        elif not result.failures and not base.failures:
            # No parser named a failure in either run: compare the error lines themselves.
            added = sorted(error_lines(result.output_tail) - error_lines(base.output_tail))
            if added or not error_lines(result.output_tail):  # nothing to compare at all: fail closed
                detail = f"new error lines: {'; '.join(added[:5])}" if added else "its failures cannot be compared with the baseline"
                reasons.append(f"`{result.command}` failed (exit {result.exit_code}); {detail}")
        elif not result.failures:
            reasons.append(f"`{result.command}` failed (exit {result.exit_code}) and its failures cannot be compared with the baseline")
    return reasons


_ERROR_WORD = re.compile(r"\b(?:error|fail(?:ed|ure)?|exception|fatal|panic)\b", re.IGNORECASE)
_NOISE = re.compile(r"/\S*?/(?:fix-\d+-\d+|dry-\d+-[0-9a-f]+)/|\d+(?:\.\d+)?")


def error_lines(output: str) -> set[str]:
    """The lines that say error/failed/exception, with numbers and the tree's path masked: comparable across runs."""
    return {_NOISE.sub("#", line.strip()) for line in output.splitlines() if _ERROR_WORD.search(line)}
