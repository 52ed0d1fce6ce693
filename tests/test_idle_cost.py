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


LOADED = """
import sys
from agent_cli.cli import main
code = main(sys.argv[1:])
print(repr(sorted(m for m in sys.modules if m.split('.')[0] in {'agent_cli', 'anthropic', 'httpx', 'git', 'jinja2', 'pygal', 'apprise',
                                                                'tenacity', 'pydantic', 'sqlite_utils'})), file=sys.stderr)
"""
# What parsing the command line needs: the CLI modules (each command registers itself) and the error types.
PARSING = {"agent_cli", "agent_cli.cli", "agent_cli.errors"}
# What no idle cycle and no dashboard needs: the client, HTTP, templates, charts, notification services, and the step machinery.
NEVER_IDLE = ("anthropic", "httpx", "git", "jinja2", "pygal", "apprise", "tenacity", "agent_cli.fix", "agent_cli.llm.", "agent_cli.notify",
              "agent_cli.detect.scan", "agent_cli.detect.events", "agent_cli.detect.sources", "agent_cli.detect.masking",
              "agent_cli.report", "agent_cli.release.deploy", "agent_cli.release.verify", "agent_cli.release.rollback",
              "agent_cli.release.assess", "agent_cli.release.incident", "agent_cli.redact", "agent_cli.gates")


def loaded(args: list[str], cwd) -> list[str]:
    p = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    return eval(p.stderr.strip().splitlines()[-1])  # noqa: S307 - our own probe's repr of a list of names


def test_parsing_the_command_line_imports_only_the_cli(project: Project) -> None:
    modules = loaded(["--help"], project.root)
    extra = [m for m in modules if m not in PARSING and not m.startswith("agent_cli.cli.")]
    assert extra == [], extra  # not even pydantic or sqlite_utils: --help and a usage error cost only the CLI


def test_status_and_an_idle_run_load_no_step_machinery(project: Project) -> None:
    (project.root / "logs").mkdir()
    (project.root / "logs" / "app.log").write_text("2026-12-01 10:00:00,000 INFO app: started\n")
    assert project.cli("run").exit_code == 0  # the first run reads the log; the next one is idle
    for args in (["-c", str(project.config), "status"], ["-c", str(project.config), "run"]):
        modules = loaded(args, project.root)
        assert "agent_cli.config" in modules  # the probe saw the command run
        heavy = [m for m in modules if m.startswith(NEVER_IDLE) or m == "agent_cli.llm"]
        assert heavy == [], (args, heavy)
