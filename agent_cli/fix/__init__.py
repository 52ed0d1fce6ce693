"""Fixes: edit application, the safety gate, validation, git worktrees, the `agent fix` step (agent_cli.fix.step).

Nothing is imported here: cron pays for every import, and `agent run` needs the fix machinery only when it fixes.
"""
