"""Related issues: a failing health probe and the errors of its minutes; issues thrown from the same place.

Called once per scan, inside its transaction, after the issues are upserted (see detect.scan). Links are
stored both ways in `issue_links` (one row per direction and kind), so a second scan that sees the same
pair adds nothing.

- **probe_window.** A probe issue (an issue of an `http` source) fails in the minutes it has events in
  `issue_minutes`. An error issue (of a log source, `file` or `command`, with an event logged at `error`
  or `critical`) seen in any minute within PROBE_WINDOW_MIN of one of those minutes is linked to it, and
  raised to P1 by PROBE_RULE (never lowered; an ignored issue, on either side, raises nothing), audited
  with the probe issue and the minutes that made it.
- **same_throw_site.** The throw site of an issue is the top in-app frame that maps to a file in the
  repository (the frame `culprit` comes from, see scan._auto_fixable): its repo path and function.
  Distinct issues with the same throw site (different exception types or messages, or the same type
  reached from different callers) are one root cause, linked.

Only pairs with at least one issue seen in this scan are looked at: a pair with no new minute on either
side was linked (or not) by an earlier scan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from agent_cli.detect import severity as sev
from agent_cli.detect.events import Frame, throw_site_first
from agent_cli.detect.scan_result import ScanResult
from agent_cli.paths import to_repo_path
from agent_cli.state import utcnow
from agent_cli.store import issues as store_issues
from agent_cli.store import scan as store_scan

if TYPE_CHECKING:
    from agent_cli.runner import Run

PROBE_WINDOW_MIN = 5  # minutes either side of a failing probe minute
PROBE_RULE = "default:errors-while-probe-failing"
PROBE_SEVERITY = "P1"
KINDS = ("probe_window", "same_throw_site")
ERROR_LEVELS = ("error", "critical")
_SAMPLES_LOOKED_AT = 5  # newest events of an issue read for its throw site


def link_issues(run: Run, result: ScanResult) -> dict[str, Any]:
    """Link and raise for the issues this scan touched; a failure here is audited, never the scan's end.

    Returns what was done: new links per kind and the issues raised.
    """
    try:
        with store_scan.savepoint(run.state, "issue_links"):
            done = _link(run, result)
    except Exception as exc:  # related issues are a view on the issues; losing them must not lose the scan
        run.audit(step="scan", decision="link_failed", reason=f"related issues not linked: {type(exc).__name__}: {str(exc)[:300]}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    return done


def _link(run: Run, result: ScanResult) -> dict[str, Any]:
    touched = sorted({s["id"] for s in (*result.new_issues, *result.updated_issues, *result.ignored)})
    stamp = utcnow()
    new: dict[str, list[tuple[int, int]]] = {kind: [] for kind in KINDS}
    _fill_throw_sites(run, touched)
    if touched:
        for a, b in _probe_pairs(run, touched):
            if _insert(run, a, b, "probe_window", stamp):
                new["probe_window"].append((a, b))
        for a, b in _throw_site_pairs(run, touched):
            if _insert(run, a, b, "same_throw_site", stamp):
                new["same_throw_site"].append((a, b))
    _audit_links(run, new)
    raised = _raise_errors_while_probe_failing(run, touched, result)
    return {"links": {kind: len(pairs) for kind, pairs in new.items()}, "raised": raised}


def _insert(run: Run, a: int, b: int, kind: str, stamp: str) -> bool:
    """Both directions; True when the link is new."""
    return store_issues.add_link(run.state, a, b, kind, stamp)


# probe window -----------------------------------------------------------------------------------------


def _source_names(run: Run, *kinds: str) -> list[str]:
    return [s.name for s in run.settings.sources if s.kind in kinds]


def _probe_ids(run: Run) -> list[int]:
    names = _source_names(run, "http")
    if not names:
        return []
    return store_issues.ids_of_sources(run.state, names)


def _error_ids(run: Run) -> list[int]:
    """Issues of log sources (not probes, not test reports) with an event logged at error level or worse."""
    names = _source_names(run, "http", "junit")
    return store_issues.ids_with_events_at(run.state, ERROR_LEVELS, not_sources=names)


def _probe_pairs(run: Run, touched: list[int]) -> list[tuple[int, int]]:
    """(probe issue, error issue) with an error minute within PROBE_WINDOW_MIN of a probe minute, one side touched."""
    probes = _probe_ids(run)
    errors = _error_ids(run)
    if not probes or not errors:
        return []
    return [(r[0], r[1]) for r in store_issues.minutes_near(run.state, probes, errors, PROBE_WINDOW_MIN, touching=touched)]


def _raise_errors_while_probe_failing(run: Run, touched: list[int], result: ScanResult) -> list[int]:
    """Error issues linked to a failing probe (neither ignored), below P1: raised to P1, audited. Never lowered."""
    state = run.state
    if not touched:
        return []
    rows = store_issues.probe_window_links(state, _probe_ids(run), touched)
    by_error: dict[int, tuple[str, str, list[int]]] = {}
    for error_id, probe_id, severity, rule in rows:
        if sev.RANK.get(severity, len(sev.RANK)) <= sev.RANK[PROBE_SEVERITY]:
            continue
        by_error.setdefault(error_id, (severity, rule, []))[2].append(probe_id)
    summaries = {s["id"]: s for s in (*result.new_issues, *result.updated_issues)}
    for error_id, (old, old_rule, probe_ids) in by_error.items():
        minutes = store_issues.minutes_near(state, probe_ids, [error_id], PROBE_WINDOW_MIN)
        spans = {r[0]: (r[2], r[3]) for r in minutes}
        store_issues.set_severity(state, error_id, PROBE_SEVERITY, PROBE_RULE, utcnow())
        named = ", ".join(f"issue {p}" + (f" ({_span(*spans[p])})" if p in spans else "") for p in probe_ids)
        run.audit(step="scan", decision="severity_raised", issue_id=error_id,
                  reason=f"{old} -> {PROBE_SEVERITY} by {PROBE_RULE}: seen within {PROBE_WINDOW_MIN} min of failing health probe {named}",
                  details={"from": old, "from_rule": old_rule, "to": PROBE_SEVERITY, "rule": PROBE_RULE, "probe_issues": probe_ids,
                           "window_min": PROBE_WINDOW_MIN, "probe_minutes": {str(p): list(spans[p]) for p in spans}})
        if error_id in summaries:
            summaries[error_id]["severity"] = PROBE_SEVERITY
    return sorted(by_error)


def _span(first: str, last: str) -> str:
    return f"minute {first}" if first == last else f"minutes {first}..{last}"


# same throw site --------------------------------------------------------------------------------------


def throw_site(frames: list[dict[str, Any]], repo: Any) -> str:
    """"path in function" of the top in-app frame that maps to a repository file (the culprit's frame), '' if none."""
    parsed = [Frame.from_dict(f) for f in frames if isinstance(f, dict)]
    for frame in throw_site_first([f for f in parsed if f.in_app]):
        path = to_repo_path(frame.file, repo)
        if path is None:
            continue
        return f"{path} in {frame.function}" if frame.function.strip() else ""
    return ""


def _fill_throw_sites(run: Run, touched: list[int]) -> None:
    """Throw sites of the touched issues (their newest events) and of issues that have none recorded yet."""
    state = run.state
    todo = set(touched) | store_issues.ids_without_throw_site(state)
    repo = run.settings.repo_path
    for issue_id in sorted(todo):
        site = ""
        for frames in store_issues.newest_frames(state, issue_id, _SAMPLES_LOOKED_AT):
            try:
                loaded = json.loads(frames or "[]")
            except ValueError:
                continue
            site = throw_site(loaded, repo) if isinstance(loaded, list) else ""
            if site:
                break
        store_issues.set_throw_site(state, issue_id, site)


def _throw_site_pairs(run: Run, touched: list[int]) -> list[tuple[int, int]]:
    rows = store_issues.same_throw_site(run.state, touched)
    return sorted({(min(a, b), max(a, b)) for a, b in rows})


# audit ------------------------------------------------------------------------------------


def _audit_links(run: Run, new: dict[str, list[tuple[int, int]]]) -> None:
    """One record per issue and kind that gained links, naming the issues it is now related to."""
    for kind, pairs in new.items():
        others: dict[int, set[int]] = defaultdict(set)
        for a, b in pairs:
            others[a].add(b)
            others[b].add(a)
        for issue_id in sorted(others):
            ids = sorted(others[issue_id])
            why = (f"within {PROBE_WINDOW_MIN} min of a failing health probe" if kind == "probe_window"
                   else "thrown from the same in-app function (same root cause)")
            run.audit(step="scan", decision="linked", issue_id=issue_id,
                      reason=f"related to issue{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}: {why}",
                      details={"kind": kind, "related": ids})
