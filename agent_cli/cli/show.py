from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output, sanitize

app = typer.Typer()


WIDTH = 160  # raw log lines and reasons are cut to this many characters; --verbose shows them whole
MAX_RAW_LINES = 30


def _cut(text: str, verbose: bool) -> str:
    return text if verbose or len(text) <= WIDTH else text[: WIDTH - 1] + "…"


@app.command("show")
def show_command(ctx: typer.Context, issue: int = typer.Argument(..., help="Issue id.")) -> None:
    """One issue: its events, diagnosis (with cost), fix attempts with evidence, deployments with their samples,
    and the audit timeline. Raw log lines are cut to a readable width; --verbose shows them whole.

    Example: agent show 12
    """
    from agent_cli.views import show_issue

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
        lines = sanitize(latest["raw"], keep_newlines=True).splitlines()  # sanitised before the cut, never after
        shown = lines if out.verbose else lines[:MAX_RAW_LINES]
        for line in shown:
            out.line(_cut(line, out.verbose))
        if len(shown) < len(lines):
            out.line(f"… {len(lines) - len(shown)} more lines (--verbose shows them)")
    if i["diagnoses"]:
        d = i["diagnoses"][-1]
        culprit = d["culprit"] or {}
        note = f": {d['provider_note']}" if d.get("provider_note") else ""
        out.line(f"\ndiagnosis ({d['provider']}{note}, {len(i['diagnoses'])} in all):")
        out.fields([
            ("root cause", d["root_cause"]),
            ("culprit", f"{culprit['path']}:{culprit['line']}: {culprit['code']}" if culprit else "-"),
            ("suspect", (d["suspect_commit"] or {}).get("sha", "-")[:12] + " " + (d["suspect_commit"] or {}).get("subject", "")),
            ("strategy", d["fix_strategy"]),
            ("confidence", f"{d['confidence']:.2f}"),
            ("LLM cost", f"${i['llm']['usd']:.4f} ({i['llm']['calls']} calls, {i['llm']['tokens']} tokens)" if i.get("llm") else "-"),
        ])
    if i["fixes"]:
        out.table(["attempt", "strategy", "status", "evidence", "branch", "sha", "summary / reason"],
                  [(f["attempt"], f["strategy"], f["status"], f.get("evidence") or "-", f["branch"] or "-", (f["sha"] or "")[:12],
                    f["summary"] or f["reason"] or "") for f in i["fixes"]], title="\nfixes")
    if i["deployments"]:
        rows = []
        for d in i["deployments"]:
            verdicts = [s["verdict"] for s in d.get("samples", [])]
            rows.append((d["id"], d["env"], d["status"], (d["sha"] or "")[:12], (d["started_at"] or "")[:19], (d["decided_at"] or "-")[:19],
                         " ".join(v[0].upper() for v in verdicts) or "-", _cut(sanitize(d["reason"] or ""), out.verbose)))
        out.table(["id", "env", "status", "sha", "started", "decided", "samples", "reason"], rows, title="\ndeployments (samples: S ok, F failed, E error, I inconclusive)")
        if out.verbose:
            for d in i["deployments"]:
                for sample in d.get("samples", []):
                    out.line(f"  deployment {d['id']} {sample['ts'][:19]} {sample['verdict']}: "
                             + "; ".join(f"{c['check']} {c['verdict']}: {c['detail']}" for c in sample["checks"]))
    if i["audit"]:
        out.table(["time", "step", "decision", "reason"], [(a["ts"][:19], a["step"], a["decision"], _cut(a["reason"], out.verbose)) for a in i["audit"]],
                  title="\naudit")
