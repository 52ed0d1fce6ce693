"""Settings for agent.toml: pydantic models, loaded TOML < AGENT_* env < flags.

Every section forbids unknown keys so a typo fails loudly (exit 2, naming the
key and the file) instead of silently running with a default. The same holds
for the environment: AGENT_<SECTION>__<KEY>[__<KEY>...] must name a key (the
section is spelt as in the file, so `[validate]` is AGENT_VALIDATE__*), a list
or table is given as JSON, and a variable that looks like config but names no
key is an error naming the variable. AGENT_* names that are not config-shaped
(no "__", not starting with a section name: AGENT_CONFIG, or a CI system's
AGENT_NAME) are not ours and are left alone.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent_cli import clock
from agent_cli.env_names import denied_name
from agent_cli.errors import ConfigError

DEFAULT_CONFIG_NAME = "agent.toml"
ENV_PREFIX = "AGENT_"
ENV_NESTED = "__"
# AGENT_* variables that are not config keys: the --config option's (agent_cli.cli._app).
NON_CONFIG_ENV = frozenset({"AGENT_CONFIG"})
SEVERITIES = ("P0", "P1", "P2", "P3", "P4")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AgentSection(_Section):
    repo: str = "."
    state: str = ".agent/state.db"
    committer: str = "agent-cli <agent-cli@localhost>"
    workdir: str = ""  # attempt trees; empty = a per-repo directory under the user's cache dir
    git_timeout_s: float = Field(120.0, gt=0)  # every git call is killed (with its children) after this


class ScanSection(_Section):
    settle_s: float = Field(2.0, ge=0)  # an unfinished last line is an event once its file is unchanged this long


class SourceConfig(_Section):
    name: str
    kind: Literal["file", "command", "http", "junit"]
    paths: list[str] = []
    format: Literal["json", "text", "auto"] = "auto"
    min_level: Literal["debug", "info", "warning", "error", "critical"] = "warning"
    command: str | list[str] = ""
    timeout_s: float = Field(30.0, gt=0)
    url: str = ""
    method: str = "GET"
    expect_status: list[int] = [200]
    max_latency_ms: float = Field(2000.0, gt=0)
    expect_json: dict[str, Any] = {}

    @model_validator(mode="after")
    def _kind_has_its_fields(self) -> "SourceConfig":
        needs = {"file": "paths", "junit": "paths", "command": "command", "http": "url"}[self.kind]
        if not getattr(self, needs):
            raise ValueError(f"a {self.kind} source needs '{needs}'")
        return self


class SeverityRule(_Section):
    pattern: str
    severity: Literal["P0", "P1", "P2", "P3", "P4"]
    source: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class SeveritySection(_Section):
    # Path prefixes the busy-5xx rule watches ("/api", "/v2/"); empty = every path.
    api_prefixes: list[str] = []
    rules: list[SeverityRule] = []

    @field_validator("api_prefixes")
    @classmethod
    def _are_paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not p.startswith("/")]
        if bad:
            raise ValueError(f"a path prefix starts with '/': {bad[0]!r}")
        return value


class LLMSection(_Section):
    provider: Literal["auto", "anthropic", "offline"] = "auto"
    model: str = "claude-sonnet-5-5"  # agent_cli.llm_catalog.DEFAULT_MODEL; checked against the catalog when it is called
    base_url: str = ""
    max_tokens: int = Field(4096, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    max_cost_per_issue_usd: float = Field(1.00, ge=0)
    max_cost_per_day_usd: float = Field(20.00, ge=0)
    # lowest: the least thinking the model accepts (between_tools or disabled, effort low); adaptive; model_default: nothing sent.
    thinking: Literal["lowest", "adaptive", "model_default"] = "lowest"
    # When the API is unusable (model gone, auth, credit, outage, budget): fall back to the offline analyser, or fail the step.
    on_failure: Literal["offline", "fail"] = "offline"
    # Prices for a model the catalog does not know (both needed to use one); they also override a known model's.
    price_input_per_mtok: float | None = Field(None, ge=0)
    price_output_per_mtok: float | None = Field(None, ge=0)


class DiagnoseSection(_Section):
    suspect_window_days: float = Field(14.0, gt=0)
    redact_emails: bool = True


def _placeholder_quoted(command: str, placeholder: str) -> bool:
    """Does `placeholder` stand inside single or double quotes (or after a backslash) in shell `command`?"""
    quote, i = "", 0
    while i < len(command):
        c = command[i]
        if command.startswith(placeholder, i) and quote:
            return True
        if c == "\\" and command.startswith(placeholder, i + 1):
            return True
        if c == "\\" and quote != "'":
            i += 2
            continue
        if c in "'\"" and quote in ("", c):
            quote = "" if quote else c
        i += 1
    return False


class ValidateSection(_Section):
    commands: list[str] = ["python -m pytest -q"]
    setup: list[str] = []  # prepares a tree once per lockfile hash (e.g. ["npm ci"]); runs with network, before validation
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    env: dict[str, str] = {}
    pass_env: list[str] = []
    timeout_s: float = Field(900.0, gt=0)
    max_attempts: int = Field(3, ge=1)

    @field_validator("commands")
    @classmethod
    def _files_unquoted(cls, value: list[str]) -> list[str]:
        # {files} is replaced by shell-quoted paths; inside quotes that quoting could be undone.
        for command in value:
            if _placeholder_quoted(command, "{files}"):
                raise ValueError(f"{command!r}: write {{files}} unquoted (the agent quotes each path itself)")
        return value

    @field_validator("env")
    @classmethod
    def _not_the_agents_own(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.upper().startswith(("ANTHROPIC_", "AGENT_")):
                raise ValueError(f"{name}: the agent's own variables are never given to validation")
        return value

    @field_validator("pass_env")
    @classmethod
    def _no_secret_names(cls, value: list[str]) -> list[str]:
        for name in value:
            rule = denied_name(name)
            if rule:
                raise ValueError(f"{name}: names matching {rule!r} are never passed to validation; put a test value in [validate] env")
        return value


class FixSection(_Section):
    revert_max_age_h: float = Field(72.0, ge=0)


class PolicySection(_Section):
    autonomy_level: int = Field(1, ge=1, le=3)
    protected_paths: list[str] = [
        ".env*",
        "**/migrations/**",
        "**/billing/**",
        "**/webhooks/stripe/**",
        "vercel.json",
    ]
    approval_paths: list[str] = ["package.json", "pyproject.toml", "requirements*.txt", "**/auth/**"]
    max_files_changed: int = Field(10, ge=1)
    max_deploys_per_day: int = Field(10, ge=0)
    max_fixes_per_hour: int = Field(5, ge=0)
    max_rollbacks_per_issue: int = Field(3, ge=0)
    min_confidence_auto: float = Field(0.90, ge=0, le=1)
    min_confidence_notify: float = Field(0.70, ge=0, le=1)
    min_confidence_approval: float = Field(0.50, ge=0, le=1)
    cancel_window_s: int = Field(3600, ge=0)
    approval_timeout_h: float = Field(24.0, gt=0)
    business_hours: str = ""
    timezone: str = "UTC"

    @field_validator("business_hours")
    @classmethod
    def _hours_format(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected HH:MM-HH:MM, e.g. 09:00-18:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _bands_ordered(self) -> "PolicySection":
        if not (self.min_confidence_auto >= self.min_confidence_notify >= self.min_confidence_approval):
            raise ValueError("confidence bands must satisfy auto >= notify >= approval")
        return self


class EnvironmentConfig(_Section):
    branch: str = ""
    remote: str = "origin"
    deploy_command: str = ""
    status_command: str = ""
    rollback_command: str = ""
    health_urls: list[str] = []
    deploy_timeout_s: float = Field(600.0, gt=0)
    baseline_s: int = Field(1800, ge=0)
    monitor_s: int = Field(600, ge=0)
    interval_s: int = Field(60, gt=0)
    max_consecutive_failures: int = Field(3, ge=1)
    max_consecutive_errors: int = Field(4, ge=1)
    max_error_rate_increase_pct: float = Field(50.0, ge=0)
    max_latency_factor: float = Field(2.0, gt=0)
    min_successful_samples: int = Field(3, ge=1)  # fewer at the window's end -> inconclusive (a person decides)
    min_requests: int = Field(20, ge=0)  # fewer lines in the window -> the error-rate check is inconclusive, never failed
    rollback_verify_s: int = Field(120, ge=0)
    post_fix_watch_h: float = Field(24.0, ge=0)  # a recurrence after resolve reopens the issue as a regression of the fix
    sources: list[str] = []  # the log sources of this environment (names); empty = every non-http source


# Defaults per environment name; a user's table overrides key by key.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "staging": {"branch": "staging"},
    "production": {"branch": "main", "monitor_s": 1800, "interval_s": 300, "max_consecutive_failures": 2},
}


# What `agent_cli.notify` can send; [notify] events picks among them.
NOTIFY_EVENTS = ("issue_detected", "approval_needed", "deployed", "rolled_back", "failed", "needs_human", "agent_trouble")


class NotifySection(_Section):
    # Secrets (SecretStr): the environment only, see SECRET_KEYS.
    slack_webhook_url: SecretStr = SecretStr("")
    discord_webhook_url: SecretStr = SecretStr("")
    google_chat_webhook_url: SecretStr = SecretStr("")
    webhook_url: SecretStr = SecretStr("")
    apprise_urls: SecretStr = SecretStr("")  # comma/space separated apprise URLs (the long tail of services)
    events: list[str] = list(NOTIFY_EVENTS)
    detected_severities: list[str] = ["P0", "P1"]  # issue_detected is sent for these only
    timeout_s: float = Field(10.0, gt=0)  # every call
    max_retries: int = Field(3, ge=0)  # timeouts, connection errors, 429 and 5xx are tried again

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in NOTIFY_EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r} (known: {', '.join(NOTIFY_EVENTS)})")
        return value

    @field_validator("detected_severities")
    @classmethod
    def _known_severities(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SEVERITIES]
        if unknown:
            raise ValueError(f"unknown severity {unknown[0]!r} (known: {', '.join(SEVERITIES)})")
        return value


class Settings(BaseSettings):
    """The whole agent.toml. `config_path` and `root` are set by `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    agent: AgentSection = AgentSection()
    scan: ScanSection = ScanSection()
    sources: list[SourceConfig] = []
    severity: SeveritySection = SeveritySection()
    llm: LLMSection = LLMSection()
    diagnose: DiagnoseSection = DiagnoseSection()
    validate_: ValidateSection = Field(ValidateSection(), alias="validate")
    fix: FixSection = FixSection()
    policy: PolicySection = PolicySection()
    environments: dict[str, EnvironmentConfig] = Field(
        default_factory=lambda: {name: EnvironmentConfig(**d) for name, d in ENVIRONMENT_DEFAULTS.items()}
    )
    notify: NotifySection = NotifySection()

    @field_validator("environments", mode="before")
    @classmethod
    def _environment_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {}
        for name, table in value.items():
            if isinstance(table, BaseModel):
                table = table.model_dump(exclude_unset=True)
            base = {"branch": name, **ENVIRONMENT_DEFAULTS.get(name, {})}
            merged[name] = {**base, **table} if isinstance(table, dict) else table
        return merged

    @model_validator(mode="after")
    def _unique_source_names(self) -> "Settings":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate source name(s): {', '.join(dupes)}")
        for env_name, env in self.environments.items():
            unknown = sorted(set(env.sources) - set(names))
            if unknown:
                raise ValueError(f"environments.{env_name}.sources names no source: {', '.join(unknown)}")
        return self

    def environment(self, name: str) -> EnvironmentConfig:
        """The named environment's settings; a usage error (exit 2) when it is not configured."""
        if name not in self.environments:
            raise ConfigError(f"no environment {name!r} (configured: {', '.join(sorted(self.environments)) or 'none'})")
        return self.environments[name]

    def environment_sources(self, name: str) -> list[str]:
        """The log sources whose lines belong to environment `name`: its list, else every non-http source."""
        env = self.environment(name)
        return list(env.sources) or [s.name for s in self.sources if s.kind != "http"]

    # Resolved locations, filled in by load_settings (not config keys).
    _config_path: Path | None = None

    @property
    def config_path(self) -> Path | None:
        return self._config_path

    @property
    def repo_path(self) -> Path:
        base = self._config_path.parent if self._config_path else Path.cwd()
        return (base / self.agent.repo).resolve()

    @property
    def state_path(self) -> Path:
        return (self.repo_path / self.agent.state).resolve()

    @property
    def workdir_path(self) -> Path:
        """Where this repository's attempt trees live; namespaced by repo so two repos never share one."""
        import hashlib

        repo = self.repo_path
        namespace = f"{repo.name}-{hashlib.sha256(str(repo).encode()).hexdigest()[:10]}"
        if self.agent.workdir:
            return (repo / Path(self.agent.workdir).expanduser()).resolve() / namespace
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache).expanduser().resolve() / "agent-cli" / "worktrees" / namespace


class _TomlDataSource(PydanticBaseSettingsSource):
    """Feeds already-parsed TOML to pydantic-settings as the lowest-priority source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


# Secrets may come from the environment only: a TOML file is often committed.
SECRET_KEYS = {("notify", k) for k, f in NotifySection.model_fields.items() if f.annotation is SecretStr}


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path} (run `agent init` or pass --config)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for section, key in sorted(SECRET_KEYS):
        table = data.get(section)
        if isinstance(table, dict) and table.get(key):
            env = f"{ENV_PREFIX}{section.upper()}{ENV_NESTED}{key.upper()}"
            raise ConfigError(f"{path}: {section}.{key}: secrets may come from the environment only; set {env}")
    return data


def _describe(error: Any) -> str:  # a pydantic ErrorDetails
    parts: list[str] = []
    for item in error.get("loc", ()):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + ("validate" if item == "validate_" else str(item)))
    return "".join(parts) or "(top level)"


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", ENV_NESTED).upper()


# --- AGENT_* environment -------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, SecretStr, type(None))


def _is_scalar(annotation: Any) -> bool:
    """A value given as plain text (pydantic converts it); anything else is JSON."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(_is_scalar(a) for a in typing.get_args(annotation))
    return annotation in _SCALARS


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _keys(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """Lower-cased spelling in a variable -> (key as in the file, annotation)."""
    return {(f.alias or name).lower(): (f.alias or name, f.annotation) for name, f in model.model_fields.items()}


def _suggest(name: str, parts: list[str], at: int, known: list[str]) -> str:
    wrong = parts[at].lower()
    fixes = [f"{k}{ENV_NESTED}{wrong[len(k) + 1:]}" for k in known if wrong.startswith(k + "_")]  # "_" where "__" was meant
    fixes += difflib.get_close_matches(wrong, known, n=1, cutoff=0.6)
    if not fixes:
        return ""
    return f" (did you mean {name[:len(ENV_PREFIX)]}{ENV_NESTED.join(parts[:at] + [fixes[0]] + parts[at + 1:]).upper()}?)"


def _config_shaped(rest: str) -> bool:
    lowered = rest.lower()
    return ENV_NESTED in rest or any(lowered == k or lowered.startswith(k + "_") for k in _keys(Settings))


def _env_value(name: str, raw: str, parts: list[str]) -> tuple[list[str], Any]:
    """The key path an AGENT_* variable sets, and its value (JSON for lists and tables). ConfigError if it names no key."""
    path: list[str] = []
    model: type[BaseModel] | None = Settings
    annotation: Any = None
    dict_of: Any = None
    for at, part in enumerate(parts):
        where = ".".join(path)
        if not part:
            raise ConfigError(f"{name}: empty key after {where or 'AGENT_'} (keys are separated by a double underscore)")
        if model is not None:
            keys = _keys(model)
            if part.lower() not in keys:
                what = f"no key {part.lower()!r} in [{where}]" if where else f"no config section {part.lower()!r}"
                raise ConfigError(f"{name}: not a config variable: {what}{_suggest(name, parts, at, sorted(k for k, _ in keys.values()))}")
            key, annotation = keys[part.lower()]
        elif dict_of is not None:
            # Table names (environments.staging) are lower case like the file's; variable names in a table keep their case.
            key, annotation = (part.lower() if _model_of(dict_of) else part), dict_of
        else:
            raise ConfigError(f"{name}: not a config variable: {where} is a single value, it has no key {part.lower()!r}")
        path.append(key)
        model = _model_of(annotation)
        dict_of = typing.get_args(annotation)[1] if typing.get_origin(annotation) is dict else None
    if _is_scalar(annotation):
        return path, raw
    try:
        return path, json.loads(raw)
    except json.JSONDecodeError as exc:
        kind, example = ("a list", '\'["pytest -q"]\'') if typing.get_origin(annotation) is list else ("a table", "'{\"key\": \"value\"}'")
        raise ConfigError(f"{name}: {'.'.join(path)} is {kind}: give it as JSON, e.g. {example} (not JSON: {exc.msg})") from None


def env_overrides(environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Nested config data from AGENT_* variables, and which variable set which key path."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NON_CONFIG_ENV or not _config_shaped(name[len(ENV_PREFIX):]):
            continue
        path, value = _env_value(name, environ[name], name[len(ENV_PREFIX):].split(ENV_NESTED))
        for earlier, other in origins.items():
            if earlier[:len(path)] == tuple(path) or tuple(path[:len(earlier)]) == earlier:
                raise ConfigError(f"{name}: sets {'.'.join(path)}, which {other} sets too")
        table = data
        for key in path[:-1]:
            table = table.setdefault(key, {})
        table[path[-1]] = value
        origins[tuple(path)] = name
    return data, origins


def _origin(loc: tuple[Any, ...], origins: dict[tuple[str, ...], str]) -> str | None:
    """The variable behind the value at `loc`: one that set it or a table around it, else one that set a key inside it."""
    loc = tuple("validate" if x == "validate_" else str(x) for x in loc)
    around = [name for path, name in origins.items() if loc[:len(path)] == path]
    inside = [name for path, name in origins.items() if path[:len(loc)] == loc]
    found = around or inside
    return found[0] if found else None


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def load_settings(config_path: Path, overrides: dict[str, Any] | None = None, *, require_repo: bool = True,
                  today: date | None = None) -> Settings:
    """Load agent.toml, then AGENT_* environment, then `overrides` (from flags).

    Raises ConfigError with one line naming the key and the file (or the variable). The model is checked
    against the catalog (retired on `today`, unknown and unpriced) when the Anthropic provider would call it.
    """
    config_path = config_path.expanduser().absolute()
    data = read_toml(config_path)
    env_data, origins = env_overrides()
    # Merged here, not by pydantic-settings' own environment source: that one ignores misspelt
    # names, reads the aliased [validate] as VALIDATE__* (no prefix) and fails on a list given as text.
    data = _merge(data, env_data)

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # type: ignore[override]
            return (init_settings, _TomlDataSource(settings_cls, data))

    try:
        settings: Settings = _Loaded(**(overrides or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _describe(first)
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        variable = _origin(tuple(first.get("loc", ())), origins)
        if variable:
            raise ConfigError(f"{variable} (environment): {key}: {first['msg']}{more}") from None
        raise ConfigError(f"{config_path}: {key}: {first['msg']}{more}") from None
    settings._config_path = config_path
    _check_model(settings, config_path, origins, today or clock.current().now().date())
    if require_repo:
        repo = settings.repo_path
        if not repo.is_dir():
            raise ConfigError(f"{config_path}: agent.repo: repository {repo} does not exist")
        if not (repo / ".git").exists():
            raise ConfigError(f"{config_path}: agent.repo: {repo} is not a git repository")
    return settings


def anthropic_key() -> str | None:
    return os.environ.get("ANTHROPIC_API_KEY") or None


def resolved_provider(settings: Settings) -> str:
    """The provider a step uses: `auto` is anthropic when ANTHROPIC_API_KEY is set, else offline."""
    chosen = settings.llm.provider
    return ("anthropic" if anthropic_key() else "offline") if chosen == "auto" else chosen


def _check_model(settings: Settings, config_path: Path, origins: dict[tuple[str, ...], str], today: date) -> None:
    """A model that would be called must be one that can be: not retired, known or priced, given a thinking setting it takes.
    With the offline provider (or `auto` without a key) it is never called, so it is not checked."""
    llm = settings.llm
    if resolved_provider(settings) == "offline":
        return
    from agent_cli import llm_catalog
    try:
        llm_catalog.check(llm.model, priced=llm.price_input_per_mtok is not None and llm.price_output_per_mtok is not None,
                          thinking=llm.thinking, today=today)
    except ValueError as exc:
        where = origins.get(("llm", "model"))
        raise ConfigError(f"{where + ' (environment)' if where else config_path}: llm.model: {exc}") from None


def template_text() -> str:
    """The agent.toml template written by `agent init` (the bundled config.example.toml)."""
    from importlib.resources import files

    return files("agent_cli").joinpath("config.example.toml").read_text(encoding="utf-8")
