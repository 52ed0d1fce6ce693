"""The incident report of a rollback: what was deployed, what degraded (with the numbers), what was reverted, the state now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_cli.paths import ensure_private_dir
from agent_cli.redact import redact
from agent_cli.release import records

if TYPE_CHECKING:
    from agent_cli.runner import Run


def render(dep: dict[str, Any], samples: list[dict[str, Any]], *, issue: dict[str, Any] | None, reason: str, outcome: str,
           issue_status: str | None) -> str:
    short = (dep.get("sha") or "")[:12]
    lines = [f"# Incident: {dep['kind']} {dep['id']} to {dep['env']} {'rolled back' if outcome == 'rolled_back' else 'rollback failed'}", ""]
    if issue:
        lines += [f"- Issue: #{issue['id']} {issue['title']} ({issue['severity']})", f"- Issue status now: {issue_status or issue['status']}"]
    lines += [
        f"- Environment: {dep['env']} (branch `{dep['branch']}` on `{dep['remote']}`)",
        f"- Deployed: `{short}`" + (f" (fix `{dep['fix_sha'][:12]}`)" if dep.get("fix_sha") else "") + f", previous head `{(dep.get('previous_sha') or '')[:12]}`",
        f"- Started: {dep['started_at']}; live: {dep.get('live_at') or 'never'}; decided: {dep.get('decided_at') or '-'}",
        f"- Reverted: {', '.join(f'`{s[:12]}`' for s in dep.get('rollback_of') or []) or 'nothing'}"
        + (f" by `{dep['rollback_sha'][:12]}`" if dep.get("rollback_sha") else " (revert not pushed)"),
        f"- Outcome: {outcome}",
        "",
        "## Why",
        "",
        reason,
        "",
    ]
    base = dep.get("baseline") or {}
    if base:
        lines += ["## Baseline before the deploy", ""]
        if base.get("error_rate") is not None:
            lines.append(f"- Error rate: {base['error_rate']:.2%} ({base.get('events', 0)} events in {base.get('lines', 0)} lines over {base.get('baseline_s')}s)")
        for url, reading in (base.get("latency") or {}).items():
            lines.append(f"- {url}: median {reading.get('median_ms')} ms")
        lines.append("")
    if samples:
        lines += ["## Samples", "", "| time | verdict | checks |", "|---|---|---|"]
        for s in samples[-20:]:
            detail = "; ".join(f"{c['check']} {c['verdict']}: {c['detail']}" for c in s["checks"]).replace("|", "/")
            lines.append(f"| {s['ts']} | {s['verdict']} | {detail[:400]} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_incident(run: "Run", dep: dict[str, Any], samples: list[dict[str, Any]], *, reason: str, outcome: str,
                   issue_status: str | None) -> Path:
    """Stored in `incidents` and written to the state directory's reports/."""
    from agent_cli.issues import load

    issue = load(run.state, dep["issue_id"]) if dep.get("issue_id") else None
    body = redact(render(dep, samples, issue=issue, reason=reason, outcome=outcome, issue_status=issue_status))
    directory = run.settings.state_path.parent / "reports"
    ensure_private_dir(directory)
    path = directory / f"incident-{dep['id']}-{dep['env']}.md"
    path.write_text(body, encoding="utf-8")
    incident = records.add_incident(run.state, deployment_id=dep["id"], issue_id=dep.get("issue_id"), env=dep["env"], path=str(path), body=body)
    run.audit(step="rollback", decision="incident-report", issue_id=dep.get("issue_id"), reason=f"incident report {path.name}",
              details={"incident": incident, "deployment": dep["id"], "path": str(path)})
    return path
