"""The `agent` command line: one module per command, joined in `_app`."""

from agent_cli.cli._app import app, main

__all__ = ["app", "main"]
