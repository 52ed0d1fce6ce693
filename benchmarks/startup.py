"""Start-up cost of the CLI, the price cron pays every five minutes.

Prints the median CPU time (user + system, so a busy machine does not skew it) of
`agent --help`, `agent status` and an idle `agent run` (nothing new in the log)
next to a bare `python -c "import typer, rich, sqlite_utils, pydantic_settings"`
in the same run, and each one's ratio to it. The goal is <= 1.2x for `status`
and an idle `run`. Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env_home = {**os.environ, "HOME": tmp}
        subprocess.run(["git", "init", "-q", tmp], check=True, env=env_home)
        subprocess.run(["git", "-C", tmp, "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-q", "--allow-empty", "-m", "init"],
                       check=True)
        subprocess.run([AGENT, "init"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        Path(tmp, "logs").mkdir(exist_ok=True)
        Path(tmp, "logs", "app.log").write_text("2026-12-01 10:00:00,000 INFO app: started\n")
        subprocess.run([AGENT, "run"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the first run reads the log
        baseline = cpu([sys.executable, "-c", "import typer, rich, sqlite_utils, pydantic_settings"], runs, tmp)
        rows = [
            ("python -c 'import typer, rich, sqlite_utils, pydantic_settings'", baseline),
            ("agent --help", cpu([AGENT, "--help"], runs, tmp)),
            ("agent status", cpu([AGENT, "status"], runs, tmp)),
            ("agent run (idle)", cpu([AGENT, "run"], runs, tmp)),
        ]
    print(f"median CPU time of {runs} runs each")
    for name, seconds in rows:
        print(f"{seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x  {name}")


if __name__ == "__main__":
    main()
