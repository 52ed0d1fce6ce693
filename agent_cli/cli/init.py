import typer

from agent_cli.cli._context import app_context

app = typer.Typer()


@app.command("init")
def init_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
) -> None:
    """Write agent.toml from the template (validation set for the detected project kind) and create the state file."""
    from agent_cli.bootstrap import init_project

    appctx = app_context(ctx)
    result = init_project(appctx.config_path, force=force)

    def render() -> None:
        found = result["detected"]
        appctx.out.line(f"wrote {result['config']}\nstate {result['state']}")
        if found["kind"] == "unknown":
            appctx.out.line("project kind: none detected; set [validate] commands yourself")
        else:
            appctx.out.line(f"project kind: {found['kind']} ({', '.join(found['evidence'])})")
            appctx.out.line(f"validate: {'; '.join(found['commands']) or 'no commands (set them)'}")
            if found["setup"]:
                appctx.out.line(f"setup: {'; '.join(found['setup'])}")
        appctx.out.line("no health probe yet: add your endpoint's url to the commented [[sources]] kind = \"http\" block")

    appctx.out.result({"ok": True, **result}, render)
