"""The HTML report's charts: pygal, rendered to plain SVG strings inlined in the page.

pygal writes a `<script>` (its config, and its tooltip code unless `js=[]`) into every chart; the page runs no script
and loads nothing, so `js=[]` drops the tooltip code and an XML filter (pygal's own hook on the element tree) removes
the config script before serialising. Labels are dates and severities; pygal escapes text through its XML tree anyway.
"""

from __future__ import annotations

from typing import Any

SEVERITY_COLOURS = {"P0": "#b91c1c", "P1": "#ea580c", "P2": "#ca8a04", "P3": "#2563eb", "P4": "#6b7280"}
DEPLOY_SERIES = [("healthy", "healthy", "#15803d"), ("rolled_back", "rolled back", "#b91c1c"), ("other", "inconclusive / failed", "#9ca3af"),
                 ("rollbacks", "rollbacks by hand", "#7c3aed")]


def _without_scripts(root: Any) -> Any:
    for parent in list(root.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _count_labels(top: int) -> list[int]:
    """Whole numbers on the y axis of a count chart, about five of them."""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def _chart(kind: str, title: str, labels: list[str], colours: list[str], *, top: int | None = None) -> Any:
    import pygal
    from pygal.style import Style

    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1f2937", foreground_strong="#111827",
                  foreground_subtle="#e5e7eb", colors=tuple(colours) or ("#2563eb",), font_family="sans-serif",
                  guide_stroke_color="#e5e7eb", major_guide_stroke_color="#d1d5db", guide_stroke_dasharray="2,2",
                  title_font_size=16, label_font_size=11, major_label_font_size=11, legend_font_size=12)
    extra: dict[str, Any] = {"max_scale": 6, "include_x_axis": True}  # durations: pygal's own scale, from 0
    if top is not None:  # counts: whole numbers (none when there is no series: pygal draws "No data")
        extra = {"y_labels": _count_labels(top), "range": (0, _count_labels(top)[-1])} if top else {}
    chart = getattr(pygal, kind)(
        js=[], disable_xml_declaration=True, style=style, title=title, width=900, height=340, explicit_size=False,
        x_label_rotation=30 if len(labels) > 12 else 0, show_minor_x_labels=True, legend_at_bottom=True,
        legend_at_bottom_columns=5, no_data_text="No data", print_values=False, allow_interruptions=True, margin=12, margin_bottom=28,
        **extra,
    )
    chart.x_labels = labels
    chart.add_xml_filter(_without_scripts)
    return chart


def _svg(chart: Any) -> str:
    return str(chart.render(is_unicode=True))


def issues_chart(s: dict[str, Any]) -> str:
    present = [(sev, values) for sev, values in s["issues_by_severity"].items() if any(values)]
    top = max((sum(col) for col in zip(*(v for _, v in present))), default=0)
    chart = _chart("StackedBar", "Issues detected, by severity", s["labels"], [SEVERITY_COLOURS[sev] for sev, _ in present], top=top)
    for sev, values in present:
        chart.add(sev, values)
    return _svg(chart)


def mttr_chart(s: dict[str, Any]) -> str:
    chart = _chart("Line", "MTTR, median hours (first seen to resolved)", s["labels"], ["#2563eb"])
    if any(v is not None for v in s["mttr_median_h"]):
        chart.add("MTTR (h)", s["mttr_median_h"])
    return _svg(chart)


def deployments_chart(s: dict[str, Any]) -> str:
    present = [(key, name, colour) for key, name, colour in DEPLOY_SERIES if any(s["deployments"][key])]
    top = max((sum(col) for col in zip(*(s["deployments"][key] for key, _, _ in present))), default=0)
    chart = _chart("StackedBar", "Deployments decided and rollbacks", s["labels"], [colour for _, _, colour in present], top=top)
    for key, name, _ in present:
        chart.add(name, s["deployments"][key])
    return _svg(chart)


def render_all(s: dict[str, Any]) -> dict[str, Any]:
    """The three charts as Markup (safe SVG) for the HTML template."""
    from markupsafe import Markup

    return {"issues": Markup(issues_chart(s)), "mttr": Markup(mttr_chart(s)), "deployments": Markup(deployments_chart(s))}
