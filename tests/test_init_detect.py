"""`agent init` detects the project kind and writes matching validation; it writes no health probe."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest

from agent_cli.config import load_settings, template_text
from tests.conftest import Project


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def init(repo: Path) -> tuple[dict, dict]:
    """Runs `agent --json init`; returns its answer and the written file, parsed."""
    p = Project(repo)
    result = p.cli("--json", "init")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1  # one JSON object
    written = tomllib.loads(p.config.read_text())
    settings = load_settings(p.config)  # the file is valid for the loader, not just for TOML
    assert settings.validate_.commands == written["validate"]["commands"]
    return result.json(), written


def package_json(scripts: dict[str, str], **extra: object) -> str:
    return json.dumps({"name": "app", "scripts": scripts, **extra})


NODE_CASES = [
    pytest.param({"package.json": package_json({"test": "vitest run"}, devDependencies={"typescript": "5"}),
                  "tsconfig.json": "{}", "package-lock.json": "{}"},
                 ["npx tsc --noEmit", "npm test"], ["npm ci"], id="npm-tsconfig"),
    pytest.param({"package.json": package_json({"typecheck": "tsc -p .", "test": "jest"}), "tsconfig.json": "{}",
                  "package-lock.json": "{}"},
                 ["npm run -s typecheck", "npm test"], ["npm ci"], id="npm-typecheck-script"),
    pytest.param({"package.json": package_json({"test": 'echo "Error: no test specified" && exit 1'}), "package-lock.json": "{}"},
                 [], ["npm ci"], id="npm-init-placeholder-test-is-no-test"),
    pytest.param({"package.json": package_json({"test": "vitest run"}), "tsconfig.json": "{}", "pnpm-lock.yaml": ""},
                 ["pnpm exec tsc --noEmit", "pnpm test"], ["pnpm install --frozen-lockfile"], id="pnpm"),
    pytest.param({"package.json": package_json({"test": "jest"}), "yarn.lock": ""},
                 ["yarn test"], ["yarn install --frozen-lockfile"], id="yarn-classic"),
    pytest.param({"package.json": package_json({"test": "jest"}), "yarn.lock": "", ".yarnrc.yml": "nodeLinker: node-modules\n"},
                 ["yarn test"], ["yarn install --immutable"], id="yarn-berry"),
    pytest.param({"package.json": package_json({"test": "jest"}, dependencies={"express": "4"})},
                 ["npm test"], ["npm install"], id="npm-no-lockfile"),
]


@pytest.mark.parametrize("files, commands, setup", NODE_CASES)
def test_node_project_gets_its_scripts_and_install(repo: Path, files: dict[str, str], commands: list[str], setup: list[str]) -> None:
    write(repo, files)
    answer, written = init(repo)
    assert answer["kind"] == "node" and answer["detected"]["evidence"][0] == "package.json"
    assert written["validate"]["commands"] == commands
    assert written["validate"]["setup"] == setup
    assert (answer["detected"]["commands"], answer["detected"]["setup"]) == (commands, setup)
    text = (repo / "agent.toml").read_text()
    assert "# agent init detected a node project (package.json" in text
    if not commands:
        assert "no typecheck or test script found" in text


PYTHON_CASES = [
    pytest.param({"pyproject.toml": "[project]\nname = 'app'\n"}, ["python -m pytest -q"], [], id="pyproject"),
    pytest.param({"pyproject.toml": "[project]\nname = 'app'\n[tool.mypy]\nstrict = true\n"},
                 ["python -m pytest -q", "python -m mypy ."], [], id="pyproject-mypy"),
    pytest.param({"requirements.txt": "flask\n", "mypy.ini": "[mypy]\n"}, ["python -m pytest -q", "python -m mypy ."], [], id="requirements-mypy-ini"),
    pytest.param({"setup.py": "from setuptools import setup\nsetup()\n", "setup.cfg": "[mypy]\nstrict = True\n"},
                 ["python -m pytest -q", "python -m mypy ."], [], id="setup-py-setup-cfg-mypy"),
    pytest.param({"requirements-dev.txt": "pytest\n", "setup.cfg": "[metadata]\nname = app\n"}, ["python -m pytest -q"], [], id="requirements-dev"),
    pytest.param({"pyproject.toml": "[project]\nname = 'app'\n[tool.mypy]\n", "uv.lock": "version = 1\n"},
                 ["uv run --no-sync python -m pytest -q", "uv run --no-sync python -m mypy ."], ["uv sync --frozen --no-install-project"], id="uv"),
]


@pytest.mark.parametrize("files, commands, setup", PYTHON_CASES)
def test_python_project_gets_pytest_and_mypy_only_when_configured(repo: Path, files: dict[str, str], commands: list[str],
                                                                   setup: list[str]) -> None:
    write(repo, files)
    answer, written = init(repo)
    assert answer["kind"] == "python"
    assert written["validate"]["commands"] == commands
    assert written["validate"]["setup"] == setup
    assert "pip install" not in (repo / "agent.toml").read_text().split("[validate]")[1].split("[fix]")[0]


def test_go_project(repo: Path) -> None:
    write(repo, {"go.mod": "module example.com/app\n\ngo 1.22\n"})
    answer, written = init(repo)
    assert answer["kind"] == "go" and answer["detected"]["also"] == []
    assert written["validate"]["commands"] == ["go vet ./...", "go test ./..."]
    assert written["validate"]["setup"] == []


def test_a_service_with_a_front_end_uses_the_service_kind_and_names_the_other(repo: Path) -> None:
    write(repo, {"go.mod": "module example.com/app\n", "package.json": package_json({"test": "vitest run"})})
    answer, written = init(repo)
    assert answer["kind"] == "go" and answer["detected"]["also"] == ["node"]
    assert written["validate"]["commands"] == ["go vet ./...", "go test ./..."]
    assert "# also found: node (package.json)" in (repo / "agent.toml").read_text()


def test_unknown_kind_keeps_the_template_and_says_nothing_was_detected(repo: Path) -> None:
    answer, written = init(repo)  # the fixture repo holds app.py only
    assert answer["kind"] == "unknown"
    template = tomllib.loads(template_text())
    assert written["validate"] == template["validate"]
    text = (repo / "agent.toml").read_text()
    assert "# agent init detected no project kind" in text
    # Apart from the health probe, every line of the template is there, in order.
    lines = template_text().splitlines()
    start, end = _http_block(lines)
    expected = [line for line in lines[:start] + lines[end:] if not line.startswith("#")]
    assert [line for line in text.splitlines() if not line.startswith("#")] == expected


def _http_block(lines: list[str]) -> tuple[int, int]:
    for i, line in enumerate(lines):
        if line.strip() == "[[sources]]":
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].strip() or lines[j].startswith("[")), len(lines))
            if any(b.replace(" ", "") == 'kind="http"' for b in lines[i:end]):
                return i, end
    return 0, 0  # the template has no active probe (any more): nothing to take out


@pytest.mark.parametrize("files", [{}, {"package.json": package_json({"test": "jest"})}, {"pyproject.toml": "[project]\nname='a'\n"}],
                         ids=["unknown", "node", "python"])
def test_no_active_health_probe_is_written(repo: Path, files: dict[str, str]) -> None:
    write(repo, files)
    _, written = init(repo)
    assert [s for s in written.get("sources", []) if s["kind"] == "http"] == []
    text = (repo / "agent.toml").read_text()
    assert '# kind = "http"' in text and "set url to your application's health endpoint" in text
    assert load_settings(repo / "agent.toml").sources  # the log file source stays


def test_fresh_init_then_scan_on_a_repo_without_logs_raises_no_issue(repo: Path) -> None:
    p = Project(repo)
    assert p.run("init").exit_code == 0  # real processes: what a person does first
    result = p.run("--json", "scan")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["events"] == 0 and data["new_issues"] == []
    assert list(data["sources"]) == ["app"]  # no probe; a missing log directory is a source error, not an issue
    assert sqlite3.connect(p.state).execute("SELECT COUNT(*) FROM issues").fetchone()[0] == 0
    assert p.run("--json", "issues").json()["issues"] == []


def test_init_reports_the_kind_in_text_and_audits_it(repo: Path) -> None:
    write(repo, {"go.mod": "module example.com/app\n"})
    p = Project(repo)
    result = p.cli("init")
    assert result.exit_code == 0
    assert "project kind: go (go.mod)" in result.stdout and "go vet ./...; go test ./..." in result.stdout
    details = json.loads(sqlite3.connect(p.state).execute("SELECT details FROM audit WHERE step = 'init'").fetchone()[0])
    assert details["kind"] == "go" and details["commands"] == ["go vet ./...", "go test ./..."]


def test_init_force_redetects(repo: Path) -> None:
    init(repo)
    write(repo, {"go.mod": "module example.com/app\n"})
    p = Project(repo)
    result = p.cli("--json", "init", "--force")
    assert result.exit_code == 0 and result.json()["kind"] == "go" and result.json()["overwrote"] is True
