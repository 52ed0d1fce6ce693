import typer

from agent_cli.cli._context import not_implemented

app = typer.Typer()


@app.command("demo")
def demo_command(ctx: typer.Context) -> None:
    """The whole loop, offline, on a bundled example application."""
    not_implemented("demo")
