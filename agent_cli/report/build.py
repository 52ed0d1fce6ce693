"""The executive report: the metrics, each fix shipped in the period with its verification, the incident reports, and the
series the charts draw. Reads only; rendering is `agent_cli.report.render`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from agent_cli.report.metrics import Window, metrics, percentile, windows
from agent_cli.store import metrics as store_metrics

if TYPE_CHECKING:
    from agent_cli.config import Settings
    from agent_cli.state import State

SEVERITIES = ("P0", "P1", "P2", "P3", "P4")
MAX_BUCKETS = 31


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def _verification(state: "State", dep: dict[str, Any]) -> dict[str, Any]:
    """Before (the baseline taken before the deploy) and after (the window's samples) for one deployment."""
    baseline = json.loads(dep["baseline"] or "{}")
    samples = store_metrics.samples(state, dep["id"])
    verdicts: dict[str, int] = {}
    for s in samples:
        verdicts[s.verdict or "unknown"] = verdicts.get(s.verdict or "unknown", 0) + 1
    return {
        "deployment": dep["id"], "env": dep["env"], "status": dep["status"], "live_at": dep["live_at"], "decided_at": dep["decided_at"],
        "reason": dep["reason"],
        "error_rate_before": baseline.get("error_rate"),
        "error_rate_after": _mean([float(s.error_rate) for s in samples if s.error_rate is not None]),
        "latency_ms_after": _mean([float(s.latency_ms) for s in samples if s.latency_ms is not None]),
        "samples": len(samples), "verdicts": verdicts,
    }


def fixes_shipped(state: "State", window: Window) -> list[dict[str, Any]]:
    """Each fix that went live in production in the window, with its issue, impact and verification on every environment."""
    shipped = []
    for found in store_metrics.fixes_shipped(state, window.start, window.end):
        dep, f, i = found.deployment, found.fix, found.issue
        shipped.append({
            "issue": {"id": i.get("id"), "title": i.get("title"), "severity": i.get("severity"), "exception_type": i.get("exception_type"),
                      "status": i.get("status"), "first_seen": i.get("first_seen"), "resolved_at": i.get("resolved_at")},
            "shipped_at": dep["live_at"],
            "impact": {"events": i.get("count", 0), "affected_users": i.get("affected_users", 0), "regressions": i.get("regressions", 0)},
            "fix": {"id": f.get("id"), "summary": f.get("summary"), "strategy": f.get("strategy"), "evidence": f.get("evidence"),
                    "confidence": f.get("confidence"), "files": json.loads(f.get("files") or "[]"), "commit": f.get("sha"), "branch": f.get("branch")},
            "deployed_sha": dep["sha"],
            "verification": [_verification(state, r) for r in found.releases],
        })
    return shipped


def incidents(state: "State", window: Window) -> list[dict[str, Any]]:
    return store_metrics.incidents(state, window.start, window.end)


def _buckets(state: "State", window: Window) -> tuple[list[datetime], timedelta]:
    """Bucket starts covering the window: hours for a day, days for a week or month, days/weeks/30 days for `all`."""
    end = window.end
    start = window.start
    if start is None:
        first = store_metrics.first_activity(state)
        start = end - timedelta(days=7) if first is None else datetime.fromtimestamp(first.timestamp(), end.tzinfo)
    span = end - start
    for size in (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=91), timedelta(days=365)):
        if span <= size * MAX_BUCKETS:
            break
    count = max(1, -(-span // size))  # ceil
    first_start = end - size * count
    return [first_start + size * k for k in range(count)], size


def _label(t: datetime, size: timedelta) -> str:
    return t.strftime("%H:00" if size < timedelta(days=1) else "%m-%d" if size < timedelta(days=365) else "%Y")


def series(state: "State", window: Window) -> dict[str, Any]:
    """What the charts draw: issues per bucket by severity, MTTR per bucket, deployments and rollbacks per bucket."""
    starts, size = _buckets(state, window)
    labels = [_label(t, size) for t in starts]
    by_severity: dict[str, list[int]] = {s: [0] * len(starts) for s in SEVERITIES}
    mttr: list[list[float]] = [[] for _ in starts]
    deploys: dict[str, list[int]] = {k: [0] * len(starts) for k in ("healthy", "rolled_back", "other", "rollbacks")}
    origin = starts[0]

    def index(stamp: str | None) -> int | None:
        if not stamp:
            return None
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        k = int((moment - origin) // size)
        return k if 0 <= k < len(starts) else None

    for issue in store_metrics.detections(state):
        k = index(issue.first_seen)
        if k is not None and issue.severity in by_severity:
            by_severity[issue.severity][k] += 1
    for fixed in store_metrics.resolutions(state):
        k = index(fixed.resolved_at)
        if k is not None and fixed.seconds is not None:
            mttr[k].append(float(fixed.seconds))
    for dep in store_metrics.deployment_times(state):
        if dep.kind == "rollback":
            k = index(dep.started_at)
            key = "rollbacks"
        else:
            k = index(dep.decided_at)
            key = "healthy" if dep.status == "healthy" else "rolled_back" if dep.status in ("rolled_back", "rollback_failed") else "other"
        if k is not None:
            deploys[key][k] += 1
    return {
        "labels": labels,
        "bucket_s": int(size.total_seconds()),
        "issues_by_severity": by_severity,
        "mttr_median_h": [None if not v else round((percentile(v, 0.5) or 0) / 3600, 3) for v in mttr],
        "deployments": deploys,
    }


def build_report(state: "State", settings: "Settings", period: str, now: datetime | None = None) -> dict[str, Any]:
    """The metrics (with the previous period) plus the executive part: what shipped, how it was verified, what went wrong."""
    data = metrics(state, period, now)
    current, _ = windows(period, now)
    shipped = fixes_shipped(state, current)
    found = incidents(state, current)
    data.update(
        project=settings.repo_path.name,
        fixes_shipped=shipped,
        incidents=found,
        charts=series(state, current),
    )
    data["has_data"] = bool(data["has_data"] or shipped or found)
    return data
