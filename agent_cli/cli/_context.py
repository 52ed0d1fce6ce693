"""What every command gets: global options, settings, state, the run lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent_cli.cli._render import Output
from agent_cli.errors import ConfigError, NotImplementedYet

if TYPE_CHECKING:
    from agent_cli.config import Settings
    from agent_cli.runner import Run
    from agent_cli.state import State


@dataclass
class AppContext:
    config_path: Path
    out: Output
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: "Settings | None" = None

    def settings(self) -> "Settings":
        if self._settings is None:
            from agent_cli.config import load_settings

            self._settings = load_settings(self.config_path, self.overrides)
        return self._settings

    @contextmanager
    def state(self) -> Iterator["State"]:
        """The existing state file, for commands that only read or flip a setting."""
        from agent_cli.state import State

        path = self.settings().state_path
        if not path.exists():
            raise ConfigError(f"no state file at {path} (run `agent init`)")
        with State.open(path) as state:
            yield state

    @contextmanager
    def locked_run(self, command: str, *, lock_timeout: float = 0) -> Iterator["Run"]:
        from agent_cli.runner import locked_run

        with locked_run(self.settings(), command, lock_timeout=lock_timeout, on_wait=self.out.info) as run:
            yield run


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:  # pragma: no cover - the root callback always sets it
        raise RuntimeError("root callback did not run")
    return obj


def not_implemented(command: str) -> None:
    raise NotImplementedYet(f"`agent {command}` is not implemented yet")
