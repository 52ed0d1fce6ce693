"""The report as text, Markdown, JSON or one self-contained HTML file.

Templates are Jinja2 (package data under templates/); HTML autoescapes every value, since titles, summaries and
incident bodies come from log text and model answers. Charts are pygal SVG inlined in the page, its scripts removed
(see `charts`). Jinja2 and pygal are imported here, inside the functions, so `agent` starts without them.
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("text", "markdown", "json", "html")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def error_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2%}"


def when(stamp: str | None) -> str:
    """An ISO time as `2026-05-01 14:03 UTC` (the JSON keeps the full stamp)."""
    if not stamp:
        return "-"
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.4f}"


def _metric_values(m: dict[str, Any]) -> list[tuple[str, str]]:
    i, f, d, p, t, llm = m["issues"], m["fixes"], m["deployments"], m["incidents_prevented"], m["times"], m["llm"]
    return [
        ("Issues detected", str(i["detected"])),
        ("Auto-fixed (verified in production)", str(i["auto_fixed"])),
        ("Needed a person", str(i["needs_human"])),
        ("Fix success rate (committed / attempted)", f"{percent(f['success_rate'])} ({f['committed']}/{f['attempted']})"),
        ("Deployment success rate (healthy / decided)", f"{percent(d['success_rate'])} ({d['healthy']}/{d['decided']})"),
        ("Rollback rate", f"{percent(d['rollback_rate'])} ({d['rolled_back']}/{d['decided']})"),
        ("Incidents prevented", f"{p['total']} (bad fixes stopped on staging {p['staging_rollbacks']}, regressions caught {p['regressions_caught']})"),
        ("MTTR median / p90", f"{duration(t['mttr']['median_s'])} / {duration(t['mttr']['p90_s'])} (n={t['mttr']['n']})"),
        ("Time to fix median / p90", f"{duration(t['time_to_fix']['median_s'])} / {duration(t['time_to_fix']['p90_s'])} (n={t['time_to_fix']['n']})"),
        ("Time to verify median / p90",
         f"{duration(t['time_to_verify']['median_s'])} / {duration(t['time_to_verify']['p90_s'])} (n={t['time_to_verify']['n']})"),
        ("LLM spend", f"{usd(llm['cost_usd'])} ({llm['calls']} calls, {llm['input_tokens']:,} in / {llm['output_tokens']:,} out tokens)"),
        ("LLM per resolved issue", "-" if llm["cost_per_resolved_usd"] is None
         else f"{usd(llm['cost_per_resolved_usd'])}, {llm['tokens_per_resolved']:,.0f} tokens"),
    ]


def view(data: dict[str, Any]) -> dict[str, Any]:
    """What every template shows, formatted once: metric rows (this period beside the previous one) and the shipped fixes."""
    current = _metric_values(data["current"])
    previous = _metric_values(data["previous"]) if data.get("previous") else None
    rows = [{"label": label, "current": value, "previous": previous[k][1] if previous else None} for k, (label, value) in enumerate(current)]
    window = data["current"]["window"]
    shipped = []
    for s in data.get("fixes_shipped", []):
        checks = [{**v, "before": error_rate(v["error_rate_before"]), "after": error_rate(v["error_rate_after"])} for v in s["verification"]]
        shipped.append({**s, "checks": checks, "commit_short": (s["fix"]["commit"] or "")[:12]})
    c = data["current"]
    return {
        "data": data,
        "title": f"agent report: {data.get('project') or 'project'}",
        "period": data["period"],
        "since": when(window["start"]) if window["start"] else "the beginning",
        "until": when(window["end"]),
        "rows": rows,
        "has_previous": previous is not None,
        "shipped": shipped,
        "incidents": data.get("incidents", []),
        "top_types": c["top_issue_types"],
        "evidence": c["evidence_mix"],
        "has_data": data.get("has_data", True),
        "kpis": [
            ("resolved", str(c["issues"]["auto_fixed"])),
            ("detected", str(c["issues"]["detected"])),
            ("MTTR (median)", duration(c["times"]["mttr"]["median_s"])),
            ("deploy success", percent(c["deployments"]["success_rate"])),
            ("incidents prevented", str(c["incidents_prevented"]["total"])),
        ],
    }


def _environment(autoescape: bool) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent_cli.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(when=when, duration=duration, percent=percent, usd=usd, error_rate=error_rate, md=markdown_escape, md_block=markdown_block)
    return env


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]#|~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " "})


def markdown_escape(value: Any) -> str:
    """Inline text for Markdown (a table cell, a heading): no markup, no HTML, one line."""
    return ("" if value is None else str(value)).translate(_MD_SPECIAL)


def markdown_block(value: Any) -> str:
    """An incident body (the agent's own Markdown around untrusted titles and details): its headings moved under the
    report's, and no raw HTML left for a Markdown viewer to render."""
    lines = []
    for line in ("" if value is None else str(value)).splitlines():
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines.append("###" + line if line.startswith("#") else line)
    return "\n".join(lines)


def render_text(data: dict[str, Any]) -> str:
    return str(_environment(False).get_template("report.txt.j2").render(view(data)))


def render_markdown(data: dict[str, Any]) -> str:
    return str(_environment(False).get_template("report.md.j2").render(view(data)))


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


def render_html(data: dict[str, Any]) -> str:
    from agent_cli.report import charts

    context = view(data)
    context["charts"] = charts.render_all(data["charts"])
    return str(_environment(True).get_template("report.html.j2").render(context))


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return {"text": render_text, "markdown": render_markdown, "json": render_json, "html": render_html}[fmt](data)
