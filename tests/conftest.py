"""Shared fixtures: real git repositories, real state files, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_cli import clock
from agent_cli.cli import app as cli_app
from agent_cli.clock import FakeClock

AGENT_BIN = Path(sys.executable).with_name("agent")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may see the developer's keys, config or git identity.
    for name in list(os.environ):
        if name.startswith(("AGENT_", "ANTHROPIC_", "GIT_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """This process runs on a clock that moves only when the test says (or something sleeps): windows pass instantly."""
    fake = FakeClock()
    previous = clock.use(fake)
    try:
        yield fake
    finally:
        clock.use(previous)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "agent.toml"

    @property
    def state(self) -> Path:
        return self.root / ".agent" / "state.db"

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """In-process, through Typer's CliRunner."""
        runner = CliRunner()
        r = runner.invoke(cli_app, ["-c", str(self.config), *args], env=env, catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        """A real subprocess of the installed `agent` script."""
        p = subprocess.run(
            [str(AGENT_BIN), "-c", str(self.config), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("def handler(request):\n    return {'ok': True}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def project(repo: Path) -> Project:
    p = Project(repo)
    result = p.cli("init")
    assert result.exit_code == 0, result.stderr
    return p


def push_to_bare_origin(root: Path, origin: Path) -> Path:
    """A bare repository at `origin`, added as the remote `origin`, with main pushed to it."""
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return origin


def commit(root: Path, message: str, env: dict[str, str] | None = None) -> str:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, check=True, env={**os.environ, **(env or {})})
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def app(project: Project, tmp_path: Path) -> dict:
    """The sample app (tests/sample_app.py): a recent commit removed a None guard; main pushed to a bare origin."""
    from tests.sample_app import OLD_COMMIT_DATE, REPO_PY, TESTS, TRACE, VIEWS_BAD, VIEWS_GOOD

    root = project.root
    (root / "app").mkdir()
    (root / "tests").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "repo.py").write_text(REPO_PY)
    (root / "app" / "views.py").write_text(VIEWS_GOOD)
    (root / "tests" / "test_views.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / ".env").write_text("DATABASE_URL=postgres://localhost/app\n")
    commit(root, "add item view", OLD_COMMIT_DATE)
    (root / "app" / "views.py").write_text(VIEWS_BAD)
    bad = commit(root, "simplify get_item")
    origin = push_to_bare_origin(root, tmp_path / "origin.git")
    (root / "logs").mkdir()
    (root / "logs" / "app.log").write_text(TRACE)
    return {"bad": bad, "origin": origin}
