"""Peak memory of a first `agent scan` over 1,000,000 identical error lines, next to grep.

Writes the lines to a temporary repository, runs a real `agent scan` as its own
process and reads that process's peak RSS (ru_maxrss from wait4, which also
covers the helper it forks to share the parsing) and its wall time. The goal is
a peak that follows the number of issues, not of events: at most 200 MB here.
Also checks the scan's result: one issue holding every line.
Usage: python benchmarks/scan_memory.py [--lines N] [--distinct-times]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT = str(Path(sys.executable).with_name("agent"))
LINE = "2026-11-21 10:00:00,000 ERROR app.db: connection pool exhausted (20 of 20 in use), request aborted\n"
GOAL_MB = 200


def generate(path: Path, lines: int, distinct_times: bool) -> None:
    with path.open("w") as f:
        if not distinct_times:
            block = LINE * 10_000
            for _ in range(lines // 10_000):
                f.write(block)
            f.write(LINE * (lines % 10_000))
            return
        for n in range(lines):  # the same error every 10 ms: about 170 minutes of it
            ms = n * 10
            f.write(f"2026-11-21 {10 + ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
                    " ERROR app.db: connection pool exhausted (20 of 20 in use), request aborted\n")


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS in bytes, exit code, stdout) of one process (and the children it waited for)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    return elapsed, usage.ru_maxrss * 1024, p.returncode, text  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--distinct-times", action="store_true", help="a new timestamp on every line (10 ms apart)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        (root / "logs").mkdir()
        log = root / "logs" / "app.log"
        generate(log, args.lines, args.distinct_times)
        (root / "agent.toml").write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
        grep_s, _, _, grep_out = run_measured(["grep", "-cE", "ERROR|Traceback", str(log)], root)
        status_s, status_rss, _, _ = run_measured([AGENT, "status"], root)  # start-up and an empty state file
        for suffix in ("", "-wal", "-shm"):
            (root / ".agent" / f"state.db{suffix}").unlink(missing_ok=True)
        scan_s, scan_rss, code, out = run_measured([AGENT, "--json", "scan"], root)
        if code != 0:
            raise SystemExit(f"agent scan exited {code}")
        result = json.loads(out)
        with sqlite3.connect(root / ".agent" / "state.db") as db:
            issues = db.execute("SELECT COUNT(*), COALESCE(SUM(count), 0) FROM issues").fetchone()
            samples = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        print(f"log: {args.lines} identical error lines{' (distinct times)' if args.distinct_times else ''}, "
              f"{log.stat().st_size / 1e6:.1f} MB, grep matched {grep_out.strip()}")
        print(f"grep -cE 'ERROR|Traceback'  {grep_s * 1000:8.1f} ms")
        print(f"agent status                {status_s * 1000:8.1f} ms  peak RSS {status_rss / 2**20:6.1f} MiB")
        print(f"agent scan (first)          {scan_s * 1000:8.1f} ms  peak RSS {scan_rss / 2**20:6.1f} MiB  "
              f"{scan_s / grep_s:5.1f}x grep  (goal: at most {GOAL_MB} MB)")
        print(f"result: {result['events']} events, {issues[0]} issue(s) counting {issues[1]}, {samples} samples stored")
        if scan_rss > GOAL_MB * 1_000_000:
            print(f"OVER GOAL: peak RSS {scan_rss / 1e6:.0f} MB > {GOAL_MB} MB")


if __name__ == "__main__":
    main()
