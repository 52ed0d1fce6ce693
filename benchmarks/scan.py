"""Throughput of `agent scan` on a generated 1,000,000-line log, next to grep.

Prints medians (three first scans, eleven idle pairs): lines/s of a first `agent scan` (the whole process, start-up included),
the added cost of an idle rescan over `agent status`, and
`grep -cE 'ERROR|Traceback'` on the same file in the same run, as a ratio.
Usage: python benchmarks/scan.py [--lines N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT = str(Path(sys.executable).with_name("agent"))
TRACEBACK = (
    "{ts} ERROR app.views: request failed user_id={user} \"GET /api/items/{n}\" status=500\n"
    "Traceback (most recent call last):\n"
    '  File "/app/app/views.py", line 42, in get_item\n'
    "    return repo.find(item_id).name\n"
    '  File "/app/app/{mod}.py", line 7, in find\n'
    "    return self.rows[key]\n"
    "{exc}\n"
)
EXCEPTIONS = ["KeyError: 'item-{n}'", "AttributeError: 'NoneType' object has no attribute 'name'", "ZeroDivisionError: division by zero"]


def generate(path: Path, lines: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    written = 0
    with path.open("w") as f:
        while written < lines:
            n = rng.randrange(1_000_000)
            ts = f"2026-11-21T10:{n % 60:02d}:{n % 59:02d}.{n % 1000:03d}Z"
            r = rng.random()
            if r < 0.004:  # multi-line Python traceback (7 lines)
                f.write(TRACEBACK.format(ts=ts, user=n % 500, n=n, mod=rng.choice(["repo", "cache"]), exc=rng.choice(EXCEPTIONS).format(n=n)))
                written += 7
            elif r < 0.010:
                f.write(f"{ts} ERROR app.db: query failed after {n % 3000} ms on shard {n % 16}\n")
                written += 1
            elif r < 0.015:
                f.write(f'{{"ts":"{ts}","level":"warning","msg":"cache miss storm","count":{n % 900}}}\n')
                written += 1
            else:
                f.write(f'{ts} INFO app.http: "GET /api/items/{n} HTTP/1.1" 200 {n % 900}ms request_id=r{n:x}\n')
                written += 1
    return written


def wall(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return elapsed, p.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    total = parser.parse_args().lines
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        (root / "logs").mkdir()
        log = root / "logs" / "app.log"
        lines = generate(log, total)
        (root / "agent.toml").write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
        size_mb = log.stat().st_size / 1e6
        state = root / ".agent" / "state.db"
        grep_runs, first_runs, idle_runs, status_runs = [], [], [], []
        for _ in range(3):  # medians of three, each first scan on a fresh state file
            for suffix in ("", "-wal", "-shm"):
                Path(str(state) + suffix).unlink(missing_ok=True)
            grep_runs.append(wall(["grep", "-cE", "ERROR|Traceback", str(log)], root))
            first_runs.append(wall([AGENT, "scan"], root)[0])
        for _ in range(11):  # idle cost is small next to the noise: alternate many pairs
            idle_runs.append(wall([AGENT, "scan"], root)[0])
            status_runs.append(wall([AGENT, "status"], root)[0])
        grep_s, grep_out = sorted(grep_runs)[1]
        first_s, idle_s, status_s = (statistics.median(r) for r in (first_runs, idle_runs, status_runs))
        print(f"log: {lines} lines, {size_mb:.1f} MB, grep matched {grep_out.strip()} lines")
        print(f"grep -cE 'ERROR|Traceback'  {grep_s * 1000:8.1f} ms  {lines / grep_s:12,.0f} lines/s")
        print(f"agent scan (first)          {first_s * 1000:8.1f} ms  {lines / first_s:12,.0f} lines/s  {first_s / grep_s:5.1f}x grep")
        print(f"agent scan (idle rescan)    {idle_s * 1000:8.1f} ms  (+{(idle_s - status_s) * 1000:.1f} ms over `agent status` at {status_s * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
