from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("show")
def show_command(ctx: typer.Context, issue: int = typer.Argument(..., help="Issue id.")) -> None:
    """One issue: events, diagnosis, fixes, deployments, audit timeline."""
    from agent_cli.issues import show_issue

    appctx = app_context(ctx)
    with appctx.state() as state:
        data = show_issue(state, issue)
    appctx.out.result(data, lambda: _render(appctx.out, data))


def _render(out: Output, i: dict[str, Any]) -> None:
    out.fields([
        ("issue", f"{i['id']}  {i['title']}"),
        ("severity", f"{i['severity']} ({i['severity_rule']})"),
        ("status", i["status"] + (f" ({i['status_reason']})" if i["status_reason"] else "")),
        ("count", f"{i['count']} events, {i['affected_users']} users, {i['regressions']} regressions"),
        ("seen", f"{i['first_seen']} .. {i['last_seen']}"),
        ("fingerprint", f"{i['fingerprint']} (v{i['fingerprint_version']})"),
        ("auto-fixable", ("yes: " if i["auto_fixable"] else "no: ") + (i["auto_fixable_reason"] or "")),
        ("paths", ", ".join(i["request_paths"]) or "-"),
    ])
    if i["events"]:
        latest = i["events"][0]
        where = f"{latest['path']}:{latest['line']}" if latest["path"] else latest["source"]
        out.line(f"\nlatest event ({where}, {latest['ts']}):")
        out.line(latest["raw"][:2000])
    for kind in ("diagnoses", "fixes", "deployments"):
        if i[kind]:
            out.line(f"\n{kind}: {len(i[kind])}")
    if i["audit"]:
        out.table(["time", "step", "decision", "reason"], [(a["ts"][:19], a["step"], a["decision"], a["reason"]) for a in i["audit"]], title="\naudit")
