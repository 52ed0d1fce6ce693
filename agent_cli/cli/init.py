import typer

from agent_cli.cli._context import app_context

app = typer.Typer()


@app.command("init")
def init_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
) -> None:
    """Write agent.toml from the template and create the state file."""
    from agent_cli.bootstrap import init_project

    appctx = app_context(ctx)
    result = init_project(appctx.config_path, force=force)
    appctx.out.result(
        {"ok": True, **result},
        lambda: appctx.out.line(f"wrote {result['config']}\nstate {result['state']}"),
    )
