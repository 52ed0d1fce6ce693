import typer

from agent_cli.cli._context import app_context

app = typer.Typer()


@app.command("pause")
def pause_command(
    ctx: typer.Context,
    reason: str = typer.Option("", "--reason", help="Why; shown by `agent status`."),
) -> None:
    """Kill switch: no step changes code or environments until `agent resume`.

    Does not wait for the run lock: a running cycle sees the pause at its next step.
    """
    from agent_cli.controls import pause

    appctx = app_context(ctx)
    with appctx.state() as state:
        result = pause(state, reason)
    appctx.out.result(
        {"ok": True, **result},
        lambda: appctx.out.line(("paused" if result["changed"] else "already paused") + f": {result.get('reason')}"),
    )


@app.command("resume")
def resume_command(ctx: typer.Context) -> None:
    """Lift a pause."""
    from agent_cli.controls import resume

    appctx = app_context(ctx)
    with appctx.state() as state:
        result = resume(state)
    appctx.out.result({"ok": True, **result}, lambda: appctx.out.line("resumed" if result["changed"] else "not paused"))
