from typing import Optional

import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    env: str = typer.Option("production", "--env", help="Environment to roll back."),
    to: Optional[str] = typer.Option(None, "--to", help="Revert to this ref instead of the last agent deployment."),
    force: bool = typer.Option(False, "--force", help="Skip pause and policy (never the audit); wait for the lock."),
    reason: str = typer.Option("", "--reason", help="Why; recorded in the audit log."),
    lock_timeout: float = typer.Option(60.0, "--lock-timeout", help="With --force: seconds to wait for the run lock."),
) -> None:
    """Revert the last agent deployment (or to REF)."""
    # An incident responder's forced rollback queues behind a running cycle
    # instead of failing with 75.
    with app_context(ctx).locked_run("rollback", lock_timeout=lock_timeout if force else 0):
        not_implemented("rollback")
