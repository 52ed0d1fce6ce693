"""Start-up cost of the CLI, the price cron pays every five minutes.

Prints the median wall time of `agent --help` and `agent status` next to a bare
`python -c "import typer, rich, sqlite_utils, pydantic_settings"` in the same
run, and their ratio to it. Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT = str(Path(sys.executable).with_name("agent"))


def timed(cmd: list[str], runs: int, cwd: str) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "init", "-q", tmp], check=True)
        subprocess.run([AGENT, "init"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        baseline = timed([sys.executable, "-c", "import typer, rich, sqlite_utils, pydantic_settings"], runs, tmp)
        rows = [
            ("python -c 'import typer, rich, sqlite_utils, pydantic_settings'", baseline),
            ("agent --help", timed([AGENT, "--help"], runs, tmp)),
            ("agent status", timed([AGENT, "status"], runs, tmp)),
        ]
    print(f"median of {runs} runs each")
    for name, seconds in rows:
        print(f"{seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x  {name}")


if __name__ == "__main__":
    main()
