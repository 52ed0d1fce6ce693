from typing import Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import sanitize

app = typer.Typer()


@app.command("issues")
def issues_command(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="Only issues with this status."),
    severity: Optional[str] = typer.Option(None, "--severity", help="Only issues of this severity (P0..P4)."),
) -> None:
    """List issues."""
    from agent_cli.issues import list_issues

    appctx = app_context(ctx)
    with appctx.state() as state:
        rows = list_issues(state, status=status, severity=severity)
    out = appctx.out

    def render() -> None:
        if not rows:
            out.line("no issues")
            return
        # Titles are log text. Output sanitises every cell; cutting after sanitising means
        # the cut never leaves half an escape sequence for the terminal.
        out.table(["id", "sev", "status", "count", "users", "last seen", "title"],
                  [(r["id"], r["severity"], r["status"], r["count"], r["affected_users"], r["last_seen"][:19], sanitize(r["title"])[:100]) for r in rows])

    out.result({"issues": rows}, render)
