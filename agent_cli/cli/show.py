import typer

from agent_cli.cli._context import not_implemented

app = typer.Typer()


@app.command("show")
def show_command(ctx: typer.Context, issue: int = typer.Argument(..., help="Issue id.")) -> None:
    """One issue: events, diagnosis, fixes, deployments, audit timeline."""
    not_implemented("show")
