"""Verdicts, pure: one check's reading, one sample's verdict, and a deployment's phase over its samples.

Argo Rollouts' semantics: each measurement is successful, failed, inconclusive or error.
Failures and errors are counted apart, in a row; a successful sample resets both, an
inconclusive one neither. A window that ends without enough successful samples is
inconclusive (a person decides): never a silent pass, never a rollback on missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_cli.config import EnvironmentConfig
from agent_cli.verdicts import ERROR, FAILED, INCONCLUSIVE, SUCCESSFUL, counters

# A sample is as bad as its worst check.
_WORST_FIRST = (FAILED, ERROR, INCONCLUSIVE, SUCCESSFUL)

# Latency must exceed the baseline by this much as well as by the factor: a 2 ms baseline doubled is noise.
LATENCY_FLOOR_MS = 100.0
# With a baseline of no errors at all, a rate this far above it (percentage points) fails.
ERROR_RATE_FLOOR = 0.01


@dataclass
class Check:
    check: str  # health | error_rate | issue | new_issue
    target: str  # the URL, the sources, the issue
    verdict: str
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "target": self.target, "verdict": self.verdict, "detail": self.detail, "numbers": self.numbers}


def health_check(url: str, *, status: int | None, latency_ms: float, error: str, baseline_ms: float | None,
                 max_latency_factor: float) -> Check:
    if status is None:
        return Check("health", url, ERROR, f"no reading: {error}", {"latency_ms": round(latency_ms, 1)})
    numbers = {"status": status, "latency_ms": round(latency_ms, 1), "baseline_ms": baseline_ms}
    if not 200 <= status < 400:
        return Check("health", url, FAILED, f"HTTP {status}", numbers)
    if baseline_ms is not None:
        limit = max(baseline_ms * max_latency_factor, baseline_ms + LATENCY_FLOOR_MS)
        numbers["limit_ms"] = round(limit, 1)
        if latency_ms > limit:
            return Check("health", url, FAILED, f"latency {latency_ms:.0f} ms over {limit:.0f} ms ({max_latency_factor:g}x baseline {baseline_ms:.0f} ms)",
                         numbers)
    return Check("health", url, SUCCESSFUL, f"HTTP {status} in {latency_ms:.0f} ms", numbers)


def error_rate_check(sources: str, *, lines: int, events: int, baseline_rate: float | None, min_requests: int,
                     max_increase_pct: float) -> Check:
    rate = events / lines if lines else 0.0
    numbers = {"lines": lines, "events": events, "rate": round(rate, 6), "baseline_rate": baseline_rate, "min_requests": min_requests}
    if lines < max(min_requests, 1):
        return Check("error_rate", sources, INCONCLUSIVE, f"too little traffic: {lines} lines since the deploy, {min_requests} needed", numbers)
    if baseline_rate is None:
        return Check("error_rate", sources, INCONCLUSIVE, "no baseline to compare with", numbers)
    limit = max(baseline_rate * (1 + max_increase_pct / 100), baseline_rate + ERROR_RATE_FLOOR)
    numbers["limit_rate"] = round(limit, 6)
    if rate > limit:
        return Check("error_rate", sources, FAILED,
                     f"error rate {rate:.2%} over {limit:.2%} (baseline {baseline_rate:.2%} + {max_increase_pct:g}%)", numbers)
    return Check("error_rate", sources, SUCCESSFUL, f"error rate {rate:.2%} (baseline {baseline_rate:.2%})", numbers)


def sample_verdict(checks: Sequence[Check]) -> str:
    """The worst verdict of the checks; a sample with no checks at all proves nothing (inconclusive)."""
    if not checks:
        return INCONCLUSIVE
    seen = {c.verdict for c in checks}
    return next(v for v in _WORST_FIRST if v in seen)


@dataclass
class Assessment:
    phase: str  # monitoring | healthy | degraded | inconclusive
    rule: str
    reason: str
    numbers: dict[str, Any]


def assess(verdicts: Sequence[str], env: EnvironmentConfig, *, elapsed_s: float) -> Assessment:
    """The deployment's phase after these sample verdicts (oldest first), `elapsed_s` into its window."""
    n = counters(verdicts)
    numbers = {**n, "elapsed_s": round(elapsed_s, 1), "monitor_s": env.monitor_s, "max_consecutive_failures": env.max_consecutive_failures,
               "max_consecutive_errors": env.max_consecutive_errors, "min_successful_samples": env.min_successful_samples}
    # A degradation is decided the moment it is seen, before or after the window's end.
    for i in range(len(verdicts)):
        c = counters(verdicts[: i + 1])
        if c["consecutive_failures"] >= env.max_consecutive_failures:
            return Assessment("degraded", "verify.max_consecutive_failures",
                              f"{c['consecutive_failures']} failed samples in a row (limit {env.max_consecutive_failures})", numbers)
        if c["consecutive_errors"] > env.max_consecutive_errors:
            return Assessment("degraded", "verify.max_consecutive_errors",
                              f"{c['consecutive_errors']} samples in a row could not be taken (limit {env.max_consecutive_errors})", numbers)
    if elapsed_s < env.monitor_s:
        return Assessment("monitoring", "verify.window", f"{elapsed_s:.0f}s of {env.monitor_s}s watched, {n['successful']} successful samples",
                          numbers)
    if n["successful"] >= env.min_successful_samples:
        return Assessment("healthy", "verify.min_successful_samples",
                          f"{n['successful']} successful samples of {n['samples']} over {env.monitor_s}s, no degradation", numbers)
    return Assessment("inconclusive", "verify.min_successful_samples",
                      f"only {n['successful']} successful samples of {n['samples']} at the window's end ({env.min_successful_samples} needed)"
                      "; a person decides", numbers)
