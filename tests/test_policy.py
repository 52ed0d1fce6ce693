"""policy: every decision at its edges, in one format (verdict, rule, reason, numbers)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from agent_cli import policy
from agent_cli.config import PolicySection
from agent_cli.errors import PolicyRefused

P = PolicySection()


@pytest.mark.parametrize(("level", "severity", "verdict"), [
    (1, "P4", "approval"), (1, "P0", "approval"),
    (2, "P0", "approval"), (2, "P1", "approval"), (2, "P2", "allow"), (2, "P4", "allow"),
    (3, "P0", "approval"), (3, "P1", "allow"), (3, "P3", "allow"),
])
def test_autonomy_matrix(level: int, severity: str, verdict: str) -> None:
    d = policy.autonomy(level, severity)
    assert d.verdict == verdict and d.rule == "policy.autonomy_level"


@pytest.mark.parametrize(("level", "users", "verdict"), [
    (2, 10, "allow"), (2, 11, "approval"), (3, 11, "allow"), (3, 100, "allow"), (3, 101, "approval"), (1, 101, "approval"),
])
def test_affected_users(level: int, users: int, verdict: str) -> None:
    assert policy.affected_users(level, users).verdict == verdict


@pytest.mark.parametrize(("confidence", "verdict", "rule"), [
    (0.90, "allow", "policy.min_confidence_auto"),
    (0.89, "notify", "policy.min_confidence_notify"),
    (0.70, "notify", "policy.min_confidence_notify"),
    (0.69, "approval", "policy.min_confidence_approval"),
    (0.50, "approval", "policy.min_confidence_approval"),
    (0.35, "refuse", "policy.min_confidence_approval"),  # escalate, no fix
    (None, "approval", "policy.min_confidence_approval"),
])
def test_confidence_bands(confidence: float | None, verdict: str, rule: str) -> None:
    d = policy.confidence(confidence, P)
    assert (d.verdict, d.rule) == (verdict, rule)
    assert d.numbers["confidence"] == confidence


def test_evidence_none_needs_a_person() -> None:
    assert policy.evidence("none").verdict == "approval"
    assert policy.evidence(None).verdict == "approval"
    assert policy.evidence("regression_test").verdict == "allow"
    assert policy.evidence("related_failure_fixed").verdict == "allow"


def test_files() -> None:
    assert policy.files(["a.py"] * 11, [], P).verdict == "refuse"
    assert policy.files(["a.py"] * 10, [], P).verdict == "allow"
    d = policy.files(["package.json"], ["package.json matches approval path package.json"], P)
    assert d.verdict == "approval" and d.rule == "policy.approval_paths"


def test_rates_fail_closed() -> None:
    assert policy.rate("policy.max_deploys_per_day", 9, 10, "deploys").verdict == "allow"
    assert policy.rate("policy.max_deploys_per_day", 10, 10, "deploys").verdict == "wait"
    unknown = policy.rate("policy.max_deploys_per_day", None, 10, "deploys")
    assert unknown.verdict == "refuse" and "fail closed" in unknown.reason


@pytest.mark.parametrize(("utc", "hours", "tz", "severity", "verdict"), [
    ("2026-12-01T10:00:00", "09:00-18:00", "UTC", "P2", "allow"),
    ("2026-12-01T08:59:00", "09:00-18:00", "UTC", "P2", "wait"),
    ("2026-12-01T18:00:00", "09:00-18:00", "UTC", "P2", "wait"),  # the end is exclusive
    ("2026-12-01T08:30:00", "09:00-18:00", "Europe/Berlin", "P2", "allow"),  # 09:30 in Berlin (UTC+1 in December)
    ("2026-12-01T03:00:00", "09:00-18:00", "UTC", "P1", "allow"),  # P0/P1 are exempt
    ("2026-12-01T23:30:00", "22:00-06:00", "UTC", "P3", "allow"),  # a window across midnight
    ("2026-12-01T12:00:00", "22:00-06:00", "UTC", "P3", "wait"),
    ("2026-12-01T12:00:00", "", "UTC", "P3", "allow"),
])
def test_business_hours(utc: str, hours: str, tz: str, severity: str, verdict: str) -> None:
    settings = PolicySection(business_hours=hours, timezone=tz)
    now = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
    d = policy.business_hours(now, settings, severity)
    assert d.verdict == verdict and d.rule == "policy.business_hours"


def test_combine_takes_the_strictest_and_keeps_every_rule() -> None:
    v = policy.combine(policy.autonomy(3, "P2"), policy.evidence("none"), policy.rate("policy.max_deploys_per_day", 10, 10, "deploys"))
    assert v.verdict == "wait" and v.decision.rule == "policy.max_deploys_per_day"
    assert [d.rule for d in v.blocking()] == ["fix.evidence", "policy.max_deploys_per_day"]
    assert v.as_dict()["decisions"][0]["rule"] == "policy.autonomy_level"


def test_paused_refuses_and_enforce_names_the_rule() -> None:
    d = policy.paused({"paused": True, "reason": "incident"})
    with pytest.raises(PolicyRefused) as exc:
        d.enforce()
    assert exc.value.rule == "paused" and "incident" in exc.value.message
    policy.paused({"paused": False}).enforce()
