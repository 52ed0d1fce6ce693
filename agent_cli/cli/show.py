from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output, sanitize

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
    if i.get("related"):
        why = {"probe_window": "probe window (failing health probe ±5 min)", "same_throw_site": "same root cause"}
        out.table(["id", "sev", "status", "related as", "title"],
                  [(r["id"], r["severity"], r["status"], why.get(r["kind"], r["kind"]) + (f" ({r['throw_site']})" if r["kind"] == "same_throw_site" else ""),
                    sanitize(r["title"])[:100]) for r in i["related"]], title="\nrelated issues")
    if i["events"]:
        latest = i["events"][0]
        where = f"{latest['path']}:{latest['line']}" if latest["path"] else latest["source"]
        out.line(f"\nlatest event ({where}, {latest['ts']}):")
        out.line(sanitize(latest["raw"], keep_newlines=True)[:2000])  # sanitised before the cut, never after
    if i["diagnoses"]:
        d = i["diagnoses"][-1]
        culprit = d["culprit"] or {}
        out.line(f"\ndiagnosis ({d['provider']}, {len(i['diagnoses'])} in all):")
        out.fields([
            ("root cause", d["root_cause"]),
            ("culprit", f"{culprit['path']}:{culprit['line']}: {culprit['code']}" if culprit else "-"),
            ("suspect", (d["suspect_commit"] or {}).get("sha", "-")[:12] + " " + (d["suspect_commit"] or {}).get("subject", "")),
            ("strategy", d["fix_strategy"]),
            ("confidence", f"{d['confidence']:.2f}"),
        ])
    if i["fixes"]:
        out.table(["attempt", "strategy", "status", "evidence", "branch", "sha", "summary / reason"],
                  [(f["attempt"], f["strategy"], f["status"], f.get("evidence") or "-", f["branch"] or "-", (f["sha"] or "")[:12],
                    f["summary"] or f["reason"] or "") for f in i["fixes"]], title="\nfixes")
    if i["deployments"]:
        out.line(f"\ndeployments: {len(i['deployments'])}")
    if i["audit"]:
        out.table(["time", "step", "decision", "reason"], [(a["ts"][:19], a["step"], a["decision"], a["reason"]) for a in i["audit"]], title="\naudit")
