"""One error hierarchy; each error carries the exit code of DESIGN.md.

The CLI turns these into one line on stderr in exactly one place
(`agent_cli.cli._app.AgentGroup`); library code only raises them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_LOCKED = 75


class AgentError(Exception):
    """A failure the user should see as one line, with a documented exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class StepFailed(AgentError):
    """A step failed and was not recovered (validation, deploy, rollback, LLM)."""

    exit_code = EXIT_FAILED


class NotImplementedYet(AgentError):
    """A command whose step a later issue builds."""

    exit_code = EXIT_FAILED


class ConfigError(AgentError):
    """Usage or configuration error."""

    exit_code = EXIT_USAGE


class StateError(AgentError):
    """The state file cannot be opened, migrated or read."""

    exit_code = EXIT_FAILED


class PolicyRefused(AgentError):
    """A step a person asked for was refused by policy or safety."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(f"{message} (rule: {rule})")
        self.rule = rule


class LockHeld(AgentError):
    """Another run holds the run lock."""

    exit_code = EXIT_LOCKED
