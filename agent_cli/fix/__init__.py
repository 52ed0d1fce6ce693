"""Fixes: edit application, the safety gate, validation, git worktrees, the `agent fix` step."""

from agent_cli.fix.step import FixResult, fix

__all__ = ["FixResult", "fix"]
