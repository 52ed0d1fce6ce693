"""The command surface of DESIGN.md: every command is there and documented."""

from __future__ import annotations

import subprocess

import pytest

from agent_cli import __version__
from tests.conftest import AGENT_BIN, Project

COMMANDS = [
    ["init"], ["scan"], ["issues"], ["show"], ["diagnose"], ["fix"], ["deploy"], ["verify"],
    ["rollback"], ["approvals"], ["approve"], ["reject"], ["pause"], ["resume"], ["status"],
    ["report"], ["run"], ["audit"], ["audit", "verify"], ["demo"], ["cancel"],
    ["issues", "resolve"], ["issues", "ignore"], ["issues", "unignore"],
]
OPTIONS = {
    "scan": ["--source"], "issues": ["--status", "--severity"], "fix": ["--dry-run", "--again"], "deploy": ["--env"],
    "verify": ["--env", "--wait"], "rollback": ["--env", "--to", "--force", "--reason", "--lock-timeout"],
    "reject": ["--reason", "--by"], "approve": ["--note", "--by"], "cancel": ["--reason"], "pause": ["--reason"], "report": ["--period", "--format", "--output"],
    "run": ["--level", "--dry-run"], "init": ["--force"],
    "issues resolve": ["--reason"], "issues ignore": ["--reason"], "issues unignore": ["--reason"],
}


def test_root_help_lists_every_command_from_a_real_process() -> None:
    p = subprocess.run([str(AGENT_BIN), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for command in {c[0] for c in COMMANDS}:
        assert f" {command} " in p.stdout, command
    for option in ("--config", "--json", "--quiet", "--verbose", "--version"):
        assert option in p.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_its_options(project: Project, command: list[str]) -> None:
    result = project.cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    for option in OPTIONS.get(" ".join(command), []):
        assert option in result.stdout, option


def test_version() -> None:
    p = subprocess.run([str(AGENT_BIN), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and __version__ in p.stdout


def test_unknown_command_is_a_usage_error(project: Project) -> None:
    result = project.run("frobnicate")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
