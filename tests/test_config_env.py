"""AGENT_* environment variables: every section can be set; a misspelt name or a malformed value exits 2 naming the variable."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agent_cli.config import Settings, _is_scalar, env_overrides, load_settings
from agent_cli.errors import ConfigError
from agent_cli.gitrepo import GitRepo
from tests.conftest import Project


def load(project: Project, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(project.config)


def test_every_section_and_key_has_a_variable() -> None:
    # Each key of each table, [validate] (the field validate_) included, is reachable as AGENT_<SECTION>__<KEY>.
    for name, field in Settings.model_fields.items():
        section = field.alias or name
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            assert env_overrides({f"AGENT_{section.upper()}": "[]"})[0] == {section: []}  # sources: a JSON list
            continue
        for key, sub in model.model_fields.items():
            value = "1" if _is_scalar(sub.annotation) else ("[]" if "list" in str(sub.annotation) else "{}")
            data, origins = env_overrides({f"AGENT_{section.upper()}__{key.upper()}": value})
            assert key in data[section], (section, key)
            assert origins == {(section, key): f"AGENT_{section.upper()}__{key.upper()}"}


def test_values_from_the_environment_override_the_file(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.config.write_text(project.config.read_text().replace("timeout_s = 900", "timeout_s = 60"))
    settings = load(
        project, monkeypatch,
        AGENT_VALIDATE__TIMEOUT_S="5",
        AGENT_VALIDATE__COMMANDS='["pytest -q", "ruff check"]',
        AGENT_VALIDATE__SETUP='["npm ci"]',
        AGENT_VALIDATE__SANDBOX="none",
        AGENT_VALIDATE__ENV__DJANGO_SETTINGS_MODULE="app.test",  # a table's variable name keeps its case
        AGENT_POLICY__AUTONOMY_LEVEL="2",
        AGENT_AGENT__GIT_TIMEOUT_S="30",
        AGENT_LLM__MODEL="claude-x",
        AGENT_DIAGNOSE__REDACT_EMAILS="false",
        AGENT_FIX__REVERT_MAX_AGE_H="1",
        AGENT_ENVIRONMENTS__STAGING__MONITOR_S="5",
        AGENT_ENVIRONMENTS__CANARY__MONITOR_S="7",
        AGENT_SEVERITY__RULES='[{"pattern": "boom", "severity": "P1"}]',
        AGENT_NOTIFY__SLACK_WEBHOOK_URL="https://hooks.example.invalid/x",
    )
    v = settings.validate_
    assert (v.timeout_s, v.commands, v.setup, v.sandbox, v.env) == (5, ["pytest -q", "ruff check"], ["npm ci"], "none", {"DJANGO_SETTINGS_MODULE": "app.test"})
    assert settings.policy.autonomy_level == 2 and settings.llm.model == "claude-x" and settings.diagnose.redact_emails is False
    assert settings.fix.revert_max_age_h == 1 and settings.agent.git_timeout_s == 30
    assert settings.environments["staging"].monitor_s == 5 and settings.environments["staging"].branch == "staging"
    assert settings.environments["canary"].monitor_s == 7 and settings.environments["canary"].branch == "canary"
    assert settings.environments["production"].monitor_s == 1800  # the file's table, untouched
    assert [r.pattern for r in settings.severity.rules] == ["boom"]
    assert settings.notify.slack_webhook_url.get_secret_value() == "https://hooks.example.invalid/x"
    assert GitRepo.of(settings).timeout == 30  # the repository the settings name takes their git timeout


def test_the_environment_reaches_the_cli_in_process(project: Project) -> None:
    assert project.cli("--json", "status").json()["level"] == 1
    assert project.cli("--json", "status", env={"AGENT_POLICY__AUTONOMY_LEVEL": "3"}).json()["level"] == 3
    assert project.cli("--json", "status", env={"AGENT_POLICY": '{"autonomy_level": 2}'}).json()["level"] == 2


def test_flags_beat_the_environment_and_unprefixed_names_are_not_read(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_POLICY__AUTONOMY_LEVEL", "2")
    assert load_settings(project.config, {"policy": {"autonomy_level": 3}}).policy.autonomy_level == 3
    # pydantic-settings read the aliased [validate] section from VALIDATE__* with no prefix: not any more.
    assert load(project, monkeypatch, VALIDATE__TIMEOUT_S="5").validate_.timeout_s == 900


@pytest.mark.parametrize("name", ["AGENT_CONFIG", "AGENT_NAME", "AGENT_TEMPDIRECTORY", "AGENT_JOBSTATUS", "AGENT_VERSION"])
def test_agent_variables_that_are_not_config_are_left_alone(project: Project, name: str) -> None:
    # AGENT_CONFIG is the --config option's; the others are what CI runners (Azure Pipelines) set.
    env = {name: str(project.config) if name == "AGENT_CONFIG" else "whatever"}
    result = project.cli("--json", "status", env=env)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("AGENT_POLICY__AUTONOMY_LEVLE", "2", ["no key 'autonomy_levle' in [policy]", "did you mean AGENT_POLICY__AUTONOMY_LEVEL?"]),
        ("AGENT_VALIDTE__TIMEOUT_S", "5", ["no config section 'validte'", "did you mean AGENT_VALIDATE__TIMEOUT_S?"]),
        ("AGENT_VALIDATE_TIMEOUT_S", "5", ["did you mean AGENT_VALIDATE__TIMEOUT_S?"]),  # one underscore where two are meant
        ("AGENT_ENVIRONMENTS__STAGING__MONITOR_SECONDS", "5", ["[environments.staging]", "did you mean AGENT_ENVIRONMENTS__STAGING__MONITOR_S?"]),
        ("AGENT_VALIDATE__TIMEOUT_S__MAX", "5", ["validate.timeout_s is a single value"]),
        ("AGENT_VALIDATE__COMMANDS", "pytest -q", ["validate.commands is a list", "JSON", '["pytest -q"]']),
        ("AGENT_VALIDATE__SETUP", "npm ci", ["validate.setup is a list"]),
        ("AGENT_VALIDATE__ENV", "A=b", ["validate.env is a table", "JSON"]),
        ("AGENT_VALIDATE__COMMANDS", '"pytest -q"', ["validate.commands", "valid list"]),
        ("AGENT_POLICY__AUTONOMY_LEVEL", "high", ["policy.autonomy_level", "integer"]),
        ("AGENT_POLICY__AUTONOMY_LEVEL", "4", ["policy.autonomy_level", "less than or equal to 3"]),
        ("AGENT_VALIDATE__TIMEOUT_S", "soon", ["validate.timeout_s", "number"]),
        ("AGENT_VALIDATE__SANDBOX", "docker", ["validate.sandbox", "'auto', 'bwrap' or 'none'"]),
        ("AGENT_AGENT__GIT_TIMEOUT_S", "0", ["agent.git_timeout_s", "greater than 0"]),
        ("AGENT_POLICY__MIN_CONFIDENCE_AUTO", "0.1", ["policy", "auto >= notify >= approval"]),  # a rule across keys
        ("AGENT_ENVIRONMENTS__STAGING__MONITOR_S", "-1", ["environments.staging.monitor_s", "greater than or equal"]),
    ],
)
def test_a_wrong_variable_exits_2_naming_it_in_one_line(project: Project, name: str, value: str, words: list[str]) -> None:
    result = project.cli("status", env={name: value})
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"agent: error: {name}"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in result.stderr


def test_the_value_itself_is_not_echoed(project: Project) -> None:
    # A value may be a secret pasted into the wrong variable.
    result = project.cli("status", env={"AGENT_POLICY__AUTONOMY_LEVEL": "sk-ant-s3cr3t"})
    assert result.exit_code == 2 and "AGENT_POLICY__AUTONOMY_LEVEL" in result.stderr and "s3cr3t" not in result.stderr


def test_a_wrong_variable_exits_2_from_the_real_script(project: Project) -> None:
    result = project.cli("status", env={"AGENT_VALIDTE__TIMEOUT_S": "5"})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "AGENT_VALIDTE__TIMEOUT_S" in result.stderr and "Traceback" not in result.stderr


def test_two_variables_setting_the_same_key_are_refused(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"AGENT_POLICY__AUTONOMY_LEVEL: sets policy.autonomy_level, which AGENT_POLICY sets too"):
        load(project, monkeypatch, AGENT_POLICY='{"autonomy_level": 2}', AGENT_POLICY__AUTONOMY_LEVEL="3")


def test_names_are_case_insensitive_like_pydantic_settings(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(project, monkeypatch, agent_policy__autonomy_level="2").policy.autonomy_level == 2
