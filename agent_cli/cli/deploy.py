import typer

from agent_cli.cli._context import app_context, not_implemented

app = typer.Typer()


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    issue: int = typer.Argument(..., help="Issue id."),
    env: str = typer.Option("staging", "--env", help="staging or production."),
) -> None:
    """Ship the issue's fix to an environment."""
    with app_context(ctx).locked_run("deploy"):
        not_implemented("deploy")
