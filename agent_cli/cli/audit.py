import typer

from agent_cli.cli._context import app_context
from agent_cli.errors import EXIT_FAILED

app = typer.Typer()
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify_command(ctx: typer.Context) -> None:
    """Check the audit chain; exit 1 naming the first bad record if it was altered."""
    from agent_cli.audit import verify

    appctx = app_context(ctx)
    with appctx.state() as state:
        result = verify(state)
    out = appctx.out
    if result.ok:
        out.result({"ok": True, **result.as_dict()}, lambda: out.line(f"audit chain intact: {result.checked} records"))
        return
    out.error(f"audit chain broken at record {result.bad_id}: {result.problem}")
    out.result({**result.as_dict()})
    raise typer.Exit(EXIT_FAILED)
