from typing import Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import sanitize

app = typer.Typer()
# `agent issues` lists (as it always has); `agent issues resolve|ignore|unignore ISSUE --reason TEXT` act on one.
issues_app = typer.Typer(name="issues", invoke_without_command=True, help="List issues, or resolve / ignore one.")
app.add_typer(issues_app)


@issues_app.callback()
def issues_command(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="Only issues with this status."),
    severity: Optional[str] = typer.Option(None, "--severity", help="Only issues of this severity (P0..P4)."),
) -> None:
    """List issues (no subcommand), or resolve / ignore / unignore one."""
    if ctx.invoked_subcommand is not None:
        return
    from agent_cli.views import list_issues

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
        out.table(["id", "sev", "status", "count", "users", "last seen", "related", "title"],
                  [(r["id"], r["severity"], r["status"], r["count"], r["affected_users"], r["last_seen"][:19], related_cell(r["related"]),
                    sanitize(r["title"])[:100]) for r in rows])

    out.result({"issues": rows}, render)


RELATED_LABELS = {"probe_window": "probe", "same_throw_site": "same cause"}


def related_cell(related: list[dict]) -> str:
    """`4,5 probe; 7 same cause`: the related issues by kind, or `-`."""
    by_kind: dict[str, list[str]] = {}
    for link in related:
        by_kind.setdefault(link["kind"], []).append(str(link["id"]))
    return "; ".join(f"{','.join(ids)} {RELATED_LABELS.get(kind, kind)}" for kind, ids in by_kind.items()) or "-"


_REASON = typer.Option(None, "--reason", help="Why (required; audited with your user name).", show_default=False)
_ISSUE = typer.Argument(..., metavar="ISSUE", help="Issue id (see `agent issues`).", show_default=False)
_DONE = {"resolve": "resolved", "ignore": "ignored", "unignore": "un-ignored"}


def _act(ctx: typer.Context, action: str, issue: int, reason: Optional[str]) -> None:
    from agent_cli.errors import ConfigError
    from agent_cli.issues import set_issue_status

    if action == "unignore" and not (reason or "").strip():
        reason = "un-ignored"  # the one action whose reason is optional: it only restores the default
    if not (reason or "").strip():
        raise ConfigError(f"`agent issues {action}` needs --reason TEXT (it is audited)")
    appctx = app_context(ctx)
    if not appctx.settings().state_path.exists():
        raise ConfigError(f"no state file at {appctx.settings().state_path} (run `agent init`)")
    with appctx.locked_run(f"issues {action}") as run:
        result = set_issue_status(run.state, issue, action, reason or "", run_id=run.run_id)

    def render() -> None:
        if result["changed"]:
            appctx.out.line(f"issue {issue} {_DONE[action]}: {result['old_status']} -> {result['new_status']}")
        else:
            appctx.out.line(f"issue {issue} is {result['old_status']} already; nothing changed")

    appctx.out.result({"ok": True, **result}, render)


@issues_app.command("resolve")
def resolve_command(ctx: typer.Context, issue: int = _ISSUE, reason: Optional[str] = _REASON) -> None:
    """A person closes an issue (audited). A later recurrence reopens it as a regression."""
    _act(ctx, "resolve", issue, reason)


@issues_app.command("ignore")
def ignore_command(ctx: typer.Context, issue: int = _ISSUE, reason: Optional[str] = _REASON) -> None:
    """Silence an issue (audited): scan keeps counting its events but never reopens, escalates or reports it."""
    _act(ctx, "ignore", issue, reason)


@issues_app.command("unignore")
def unignore_command(
    ctx: typer.Context,
    issue: int = _ISSUE,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (optional; audited with your user name).", show_default=False),
) -> None:
    """Undo `ignore` (audited): the issue is `detected` again and treated as any other."""
    _act(ctx, "unignore", issue, reason)
