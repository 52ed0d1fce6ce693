"""Readings of an environment: its baseline before a deploy, and one sample's checks after it.

Error rates come from the scan's own per-source metrics (events / lines). The state keeps
running totals, so "since the deploy" is a difference of totals, whoever ran the scans.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent_cli import clock
from agent_cli.probe import probe
from agent_cli.release.assess import Check, error_rate_check, health_check
from agent_cli.state import parse_utc
from agent_cli.store import metrics as store_metrics
from agent_cli.verdicts import FAILED, INCONCLUSIVE, SUCCESSFUL

if TYPE_CHECKING:
    from agent_cli.config import EnvironmentConfig
    from agent_cli.runner import Run
    from agent_cli.state import State

BASELINE_PROBES = 3
PROBE_TIMEOUT_S = 10.0


def scan_environment(run: "Run", env_name: str) -> list[str]:
    """A fresh scan of the environment's log sources; their names."""
    from agent_cli.detect.scan import scan

    names = run.settings.environment_sources(env_name)
    if names:
        scan(run, source_names=names)
    return names


def totals(state: "State", sources: list[str], since_minute: str = "") -> dict[str, int]:
    lines, events = store_metrics.source_totals(state, sources, since_minute)
    return {"lines": lines, "events": events}


def _minute(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M")


def latency_baseline(urls: list[str], *, probes: int = BASELINE_PROBES) -> dict[str, Any]:
    """Per URL: the median latency of a few answered probes (None when it never answered) and what it said."""
    out: dict[str, Any] = {}
    for url in urls:
        readings = [probe(url, timeout_s=PROBE_TIMEOUT_S) for _ in range(probes)]
        answered = [r.latency_ms for r in readings if r.answered and 200 <= (r.status or 0) < 400]
        out[url] = {"median_ms": round(statistics.median(answered), 1) if answered else None,
                    "statuses": [r.status for r in readings], "errors": [r.error for r in readings if r.error][:1]}
    return out


def baseline(run: "Run", env_name: str) -> dict[str, Any]:
    """The environment before a deploy: error rate over `baseline_s` and health latency."""
    env = run.settings.environment(env_name)
    sources = scan_environment(run, env_name)
    since = clock.current().now() - timedelta(seconds=env.baseline_s)
    window = totals(run.state, sources, _minute(since))
    rate = window["events"] / window["lines"] if window["lines"] else None
    return {"sources": sources, "baseline_s": env.baseline_s, "lines": window["lines"], "events": window["events"],
            "error_rate": round(rate, 6) if rate is not None else None, "latency": latency_baseline(env.health_urls),
            "taken_at": clock.current().now().isoformat()}


def health_checks(env: "EnvironmentConfig", base: dict[str, Any]) -> list[Check]:
    checks = []
    for url in env.health_urls:
        reading = probe(url, timeout_s=PROBE_TIMEOUT_S)
        baseline_ms = (base.get("latency", {}).get(url) or {}).get("median_ms")
        checks.append(health_check(url, status=reading.status, latency_ms=reading.latency_ms, error=reading.error,
                                   baseline_ms=baseline_ms, max_latency_factor=env.max_latency_factor))
    return checks


def issue_events_since(state: "State", issue_id: int, sources: list[str], since: datetime) -> int:
    times = store_metrics.issue_event_times(state, issue_id, sources)
    return sum(1 for ts in times if (when := parse_utc(ts)) is not None and when >= since)


def new_culprit_issues(state: "State", since: datetime, changed: dict[str, list[list[int]]], exclude: int | None) -> list[dict[str, Any]]:
    """Issues first seen after `since` whose culprit line is one the deployed change touched."""
    found = []
    for row in store_metrics.issues_with_culprit(state, exclude):
        first = parse_utc(row["first_seen"])
        path, _, line = str(row["culprit"]).rpartition(":")
        if first is None or first < since or not line.isdigit() or path not in changed:
            continue
        if any(lo <= int(line) <= hi for lo, hi in changed[path]):
            found.append(row)
    return found


def sample_checks(run: "Run", deployment: dict[str, Any]) -> list[Check]:
    """Every check of one sample: each health URL, the error rate since the deploy, the issue itself, new issues in changed lines."""
    env = run.settings.environment(deployment["env"])
    base = deployment["baseline"]
    live = parse_utc(deployment["live_at"]) or clock.current().now()
    checks = health_checks(env, base)
    sources = scan_environment(run, deployment["env"])
    if sources:
        now_totals = totals(run.state, sources)
        at_live = base.get("totals_at_live", {"lines": 0, "events": 0})
        lines, events = now_totals["lines"] - at_live["lines"], now_totals["events"] - at_live["events"]
        checks.append(error_rate_check(",".join(sources), lines=lines, events=events, baseline_rate=base.get("error_rate"),
                                       min_requests=env.min_requests, max_increase_pct=env.max_error_rate_increase_pct))
        if deployment.get("issue_id"):
            seen = issue_events_since(run.state, deployment["issue_id"], sources, live)
            target = f"issue {deployment['issue_id']}"
            if seen:
                checks.append(Check("issue", target, FAILED, f"issue still occurring: {seen} events since the deploy", {"events": seen}))
            elif lines >= max(env.min_requests, 1):
                checks.append(Check("issue", target, SUCCESSFUL, f"not seen in {lines} lines since the deploy", {"events": 0, "lines": lines}))
            else:
                checks.append(Check("issue", target, INCONCLUSIVE, f"not seen, but only {lines} lines since the deploy", {"events": 0, "lines": lines}))
    for row in new_culprit_issues(run.state, live, base.get("changed_lines", {}), deployment.get("issue_id")):
        checks.append(Check("new_issue", f"issue {row['id']}", FAILED, f"new issue {row['id']} at {row['culprit']}, a line this deploy changed",
                            {"issue": row["id"], "culprit": row["culprit"]}))
    return checks


def environment_back(env: "EnvironmentConfig", base: dict[str, Any]) -> tuple[bool, list[Check]]:
    """After a rollback: every health URL answers well again (at baseline latency). No health URL: nothing to prove."""
    checks = health_checks(env, base)
    return all(c.verdict == SUCCESSFUL for c in checks), checks



