from typing import Optional

import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    env: Optional[str] = typer.Option(None, "--env", help="Only deployments to this environment."),
    wait: bool = typer.Option(False, "--wait", help="Keep sampling until every deployment is decided."),
) -> None:
    """Sample health of active deployments; promote or roll back when decided."""
    with app_context(ctx).locked_run("verify"):
        not_implemented("verify")
