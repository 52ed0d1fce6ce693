"""`assess` and the checks, table first: every rule at its edge."""

from __future__ import annotations

import pytest

from agent_cli.config import EnvironmentConfig
from agent_cli.release.assess import (
    LATENCY_FLOOR_MS,
    Check,
    assess,
    error_rate_check,
    health_check,
    sample_verdict,
)
from agent_cli.verdicts import ERROR, FAILED, INCONCLUSIVE, SUCCESSFUL, counters

ENV = EnvironmentConfig(monitor_s=600, max_consecutive_failures=3, max_consecutive_errors=4, min_successful_samples=3)
S, F, E, U = SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE  # U: undecided (inconclusive)


@pytest.mark.parametrize(("verdicts", "elapsed", "phase", "rule"), [
    ([], 0, "monitoring", "verify.window"),
    ([S, S], 100, "monitoring", "verify.window"),
    ([F, F], 100, "monitoring", "verify.window"),  # two failures: under the limit of three
    ([F, F, F], 100, "degraded", "verify.max_consecutive_failures"),  # at the limit: degraded before the window ends
    ([F, F, S, F, F], 100, "monitoring", "verify.window"),  # a good sample resets the count
    ([F, F, U, F], 100, "degraded", "verify.max_consecutive_failures"),  # inconclusive resets nothing
    ([F, F, E, F], 100, "degraded", "verify.max_consecutive_failures"),  # errors and failures are counted apart
    ([E, E, E, E], 100, "monitoring", "verify.window"),  # four errors: the limit, not over it
    ([E, E, E, E, E], 100, "degraded", "verify.max_consecutive_errors"),
    ([E, E, S, E, E, E, E], 100, "monitoring", "verify.window"),
    ([S, S, S], 600, "healthy", "verify.min_successful_samples"),  # at the window's end, enough successes
    ([S, S, S], 599, "monitoring", "verify.window"),
    ([S, S, U, U], 600, "inconclusive", "verify.min_successful_samples"),  # too few: a person decides, never a pass
    ([U, U, U, U], 900, "inconclusive", "verify.min_successful_samples"),  # no data is not a failure either
    ([S, F, S, F, S], 600, "healthy", "verify.min_successful_samples"),
    ([S, S, S, F, F, F], 600, "degraded", "verify.max_consecutive_failures"),  # degradation wins over the window's end
])
def test_assess_table(verdicts: list[str], elapsed: float, phase: str, rule: str) -> None:
    result = assess(verdicts, ENV, elapsed_s=elapsed)
    assert (result.phase, result.rule) == (phase, rule)
    assert result.numbers["samples"] == len(verdicts)


def test_assess_reasons_carry_the_numbers() -> None:
    result = assess([F, F, F], ENV, elapsed_s=10)
    assert "3 failed samples in a row (limit 3)" in result.reason
    assert result.numbers["consecutive_failures"] == 3 and result.numbers["max_consecutive_failures"] == 3


def test_counters() -> None:
    assert counters([S, F, F, E]) == {"consecutive_failures": 2, "consecutive_errors": 1, "successful": 1, "samples": 4}


@pytest.mark.parametrize(("verdicts", "worst"), [
    ([], U), ([S], S), ([S, U], U), ([S, U, E], E), ([E, F, S], F),
])
def test_a_sample_is_as_bad_as_its_worst_check(verdicts: list[str], worst: str) -> None:
    assert sample_verdict([Check("x", "t", v, "") for v in verdicts]) == worst


@pytest.mark.parametrize(("status", "latency", "baseline", "verdict"), [
    (None, 10_000, 5.0, ERROR),  # refused or timed out: no reading, not a bad one
    (503, 5, 5.0, FAILED),
    (404, 5, 5.0, FAILED),
    (200, 5, 5.0, SUCCESSFUL),
    (302, 5, 5.0, SUCCESSFUL),
    (200, 5 + LATENCY_FLOOR_MS, 5.0, SUCCESSFUL),  # doubled but within the floor: noise
    (200, 5 + LATENCY_FLOOR_MS + 1, 5.0, FAILED),
    (200, 400, 200.0, SUCCESSFUL),  # exactly the factor
    (200, 401, 200.0, FAILED),
    (200, 900, None, SUCCESSFUL),  # no baseline latency: only the status counts
])
def test_health_check(status: int | None, latency: float, baseline: float | None, verdict: str) -> None:
    check = health_check("http://127.0.0.1:1/health", status=status, latency_ms=latency, error="refused" if status is None else "",
                         baseline_ms=baseline, max_latency_factor=2.0)
    assert check.verdict == verdict, check.detail


@pytest.mark.parametrize(("lines", "events", "baseline", "verdict"), [
    (19, 19, 0.0, INCONCLUSIVE),  # too little traffic is never a failure
    (20, 0, None, INCONCLUSIVE),  # nothing to compare with
    (20, 0, 0.0, SUCCESSFUL),
    (100, 1, 0.0, SUCCESSFUL),  # 1% over a clean baseline: the floor
    (100, 2, 0.0, FAILED),
    (100, 15, 0.10, SUCCESSFUL),  # +50% exactly
    (100, 16, 0.10, FAILED),
])
def test_error_rate_check(lines: int, events: int, baseline: float | None, verdict: str) -> None:
    check = error_rate_check("app", lines=lines, events=events, baseline_rate=baseline, min_requests=20, max_increase_pct=50)
    assert check.verdict == verdict, check.detail
