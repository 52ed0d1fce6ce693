"""Cron runs `agent status`-like steps every five minutes: they must not load anthropic or git."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Project

PROBE = """
import sys
from agent_cli.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'anthropic', 'git', 'httpx'})
print(repr(heavy), file=sys.stderr)
"""


def test_status_and_help_do_not_import_heavy_modules(project: Project) -> None:
    for args in (["-c", str(project.config), "status"], ["--help"], ["-c", str(project.config), "pause"]):
        p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
        assert p.stderr.strip().splitlines()[-1] == "[]", (args, p.stderr)
