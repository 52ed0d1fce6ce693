"""`agent init`: write agent.toml from the template and create the state file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_cli import audit
from agent_cli.config import load_settings, template_text
from agent_cli.errors import AgentError, ConfigError
from agent_cli.state import State


def init_project(config_path: Path, *, force: bool = False) -> dict[str, Any]:
    config_path = config_path.expanduser().absolute()
    existed = config_path.exists()
    if existed and not force:
        raise ConfigError(f"{config_path} already exists; pass --force to overwrite it")
    previous = config_path.read_bytes() if existed else None
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(template_text(), encoding="utf-8")
    try:
        settings = load_settings(config_path)
        with State.open(settings.state_path) as state:
            audit.record(state, step="init", decision="initialised", reason=f"config written to {config_path}", details={"overwrote": existed})
    except AgentError:
        # Leave the user's files as they were.
        if previous is None:
            config_path.unlink(missing_ok=True)
        else:
            config_path.write_bytes(previous)
        raise
    return {"config": str(config_path), "state": str(settings.state_path), "overwrote": existed}
