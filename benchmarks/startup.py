"""Start-up cost of the CLI, the price cron pays every five minutes.

Prints the median CPU time (user + system, so a busy machine does not skew it) of
`agent --help`, `agent status` and an idle `agent run` (nothing new in the log)
next to a bare `python -c "import typer, rich, sqlite_utils, pydantic_settings"`
in the same run, and each one's ratio to it. The goal is <= 1.2x for `status`
and an idle `run`. CPU time on a shared VM varies by tens of percent from run to run;
`--instructions` counts instructions under valgrind's callgrind instead (one run each,
repeatable to the instruction). Usage: python benchmarks/startup.py [--runs N] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

AGENT = str(Path(sys.executable).with_name("agent"))


def cpu(cmd: list[str], runs: int, cwd: str) -> float:
    """Median CPU seconds of `cmd` (its whole process tree, as the kernel counts children)."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(samples)


def instructions(cmd: list[str], runs: int, cwd: str) -> float:
    """Instructions `cmd` executes (valgrind callgrind), deterministic for the same code and inputs."""
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd], cwd=cwd, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", p.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count for {cmd}: {p.stderr[-300:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind (repeatable) instead of CPU time")
    args = parser.parse_args()
    runs = args.runs
    measure, unit, scale = (instructions, "M instructions", 1e-6) if args.instructions else (cpu, "ms CPU", 1000.0)
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        env_home = {**os.environ, "HOME": tmp}
        subprocess.run(["git", "init", "-q", tmp], check=True, env=env_home)
        subprocess.run(["git", "-C", tmp, "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-q", "--allow-empty", "-m", "init"],
                       check=True)
        subprocess.run([AGENT, "init"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        Path(tmp, "logs").mkdir(exist_ok=True)
        Path(tmp, "logs", "app.log").write_text("2026-12-01 10:00:00,000 INFO app: started\n")
        subprocess.run([AGENT, "run"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the first run reads the log
        baseline = measure([sys.executable, "-c", "import typer, rich, sqlite_utils, pydantic_settings"], runs, tmp)
        rows = [
            ("python -c 'import typer, rich, sqlite_utils, pydantic_settings'", baseline),
            ("agent --help", measure([AGENT, "--help"], runs, tmp)),
            ("agent status", measure([AGENT, "status"], runs, tmp)),
            ("agent run (idle)", measure([AGENT, "run"], runs, tmp)),
        ]
    how = "instructions (callgrind), one run each" if args.instructions else f"median CPU time of {runs} runs each"
    print(f"{how}; ratio to the CLI libraries' import floor")
    for name, value in rows:
        print(f"{value * scale:10.1f} {unit}  {value / baseline:5.2f}x  {name}")


if __name__ == "__main__":
    main()
