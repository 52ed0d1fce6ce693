"""`agent init` and configuration errors: one line naming the key and the file, exit 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent_cli.config import load_settings, template_text
from tests.conftest import Project


def test_init_writes_config_and_state_and_keeps_them_out_of_git_status(repo: Path) -> None:
    p = Project(repo)
    result = p.run("--json", "init")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["config"] == str(p.config) and data["state"] == str(p.state)
    from agent_cli.bootstrap import detect_project, render_config

    # the template, with the [validate] lines of the detected project kind (here: none detected)
    assert p.config.read_text() == render_config(template_text(), detect_project(repo), setup_supported=True)
    tables = {r[0] for r in sqlite3.connect(p.state).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"issues", "events", "diagnoses", "fixes", "deployments", "health_samples", "approvals",
            "llm_calls", "settings", "scan_cursors", "runs", "audit"} <= tables
    import subprocess

    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert ".agent" not in status


def test_init_refuses_to_overwrite_without_force(project: Project) -> None:
    project.config.write_text(project.config.read_text() + "\n# my edit\n")
    before = project.config.read_bytes()
    result = project.cli("init")
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert project.config.read_bytes() == before
    assert project.cli("init", "--force").exit_code == 0
    assert b"# my edit" not in project.config.read_bytes()


def test_init_outside_a_git_repo_fails_and_leaves_nothing(tmp_path: Path) -> None:
    p = Project(tmp_path)
    result = p.run("init")
    assert result.exit_code == 2
    assert "is not a git repository" in result.stderr
    assert not p.config.exists()


def test_template_documents_every_key() -> None:
    # Every key of every section appears in the template, with a comment somewhere in the file.
    from agent_cli.config import Settings

    text = template_text()
    for name, field in Settings.model_fields.items():
        section = field.alias or name
        assert section in text, section
        annotation = field.annotation
        model = getattr(annotation, "model_fields", None)
        if model:
            for key in model:
                assert f"{key}" in text, f"{section}.{key}"


@pytest.mark.parametrize(
    "toml, key, words",
    [
        ("[policy]\nautonomy_levl = 2\n", "policy.autonomy_levl", "Extra inputs"),
        ("[policy]\nautonomy_level = 'high'\n", "policy.autonomy_level", "integer"),
        ("[policy]\nautonomy_level = 4\n", "policy.autonomy_level", "less than or equal to 3"),
        ("[[sources]]\nname = 'a'\nkind = 'file'\n", "sources[0]", "needs 'paths'"),
        ("[[sources]]\nname = 'a'\nkind = 'carrier-pigeon'\npaths=['x']\n", "sources[0].kind", "file"),
        ("[[severity.rules]]\npattern = '('\nseverity = 'P0'\n", "severity.rules[0].pattern", "invalid regular expression"),
        ("[environments.staging]\nmonitor_s = -1\n", "environments.staging.monitor_s", "greater than or equal"),
        ("[policy]\nbusiness_hours = '9 to 5'\n", "policy.business_hours", "HH:MM-HH:MM"),
        ("[validate]\ntimeout_s = 'soon'\n", "validate.timeout_s", "number"),
        ("[policy\n", "invalid TOML", "line 1"),
        ("[notify]\nslack_webhook_url = 'https://hooks.example.invalid/x'\n", "notify.slack_webhook_url", "AGENT_NOTIFY__SLACK_WEBHOOK_URL"),
    ],
)
def test_config_errors_exit_2_with_one_line_naming_key_and_file(repo: Path, toml: str, key: str, words: str) -> None:
    p = Project(repo)
    p.config.write_text(toml)
    result = p.run("status")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(p.config) in lines[0] and key in lines[0] and words in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_repo_and_missing_config(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.config.write_text("[agent]\nrepo = 'does-not-exist'\n")
    result = p.run("status")
    assert result.exit_code == 2 and "agent.repo" in result.stderr and "does not exist" in result.stderr
    (tmp_path / "nowhere").mkdir()
    missing = Project(tmp_path / "nowhere").run("status")
    assert missing.exit_code == 2 and "no config file" in missing.stderr


def test_environment_overrides_file_and_names_itself_when_wrong(project: Project) -> None:
    assert project.cli("--json", "status").json()["level"] == 1
    assert project.cli("--json", "status", env={"AGENT_POLICY__AUTONOMY_LEVEL": "2"}).json()["level"] == 2
    bad = project.cli("status", env={"AGENT_POLICY__AUTONOMY_LEVEL": "9"})
    assert bad.exit_code == 2 and "AGENT_POLICY__AUTONOMY_LEVEL" in bad.stderr


def test_config_path_from_agent_config_env(project: Project, tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.conftest import AGENT_BIN

    p = subprocess.run([str(AGENT_BIN), "--json", "status"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "AGENT_CONFIG": str(project.config)}, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1 and '"level": 1' in p.stdout


def test_production_defaults_apply_to_a_partial_table(repo: Path) -> None:
    p = Project(repo)
    p.config.write_text("[environments.production]\nremote = 'upstream'\n[environments.canary]\nmonitor_s = 60\n")
    settings = load_settings(p.config)
    prod = settings.environments["production"]
    assert (prod.branch, prod.remote, prod.monitor_s, prod.max_consecutive_failures) == ("main", "upstream", 1800, 2)
    assert settings.environments["canary"].branch == "canary"


def test_state_paths_resolve_relative_to_the_config_file(repo: Path) -> None:
    (repo / "ops").mkdir()
    config = repo / "ops" / "agent.toml"
    config.write_text("[agent]\nrepo = '..'\nstate = 'var/agent.db'\n")
    settings = load_settings(config)
    assert settings.repo_path == repo.resolve()
    assert settings.state_path == (repo / "var" / "agent.db").resolve()
