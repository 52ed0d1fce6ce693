"""Every allow / approval / refuse decision, pure and in one format: the verdict, the rule, the reason and its numbers.

Steps gather the inputs (counts, confidence, files, the clock) and call these; `agent run
--dry-run` prints the same decisions. `combine` takes the strictest of several.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from agent_cli.errors import PolicyRefused

if TYPE_CHECKING:
    from agent_cli.config import PolicySection

ALLOW, NOTIFY, WAIT, APPROVAL, REFUSE = "allow", "notify", "wait", "approval", "refuse"
# Strictest first. notify: ship, tell people, and let them cancel for cancel_window_s. wait: not now, ask again next run.
_ORDER = (REFUSE, WAIT, APPROVAL, NOTIFY, ALLOW)

# The autonomy matrix of DESIGN.md: who may ship what without a person.
AUTONOMY: dict[int, dict[str, str]] = {
    1: {"P0": APPROVAL, "P1": APPROVAL, "P2": APPROVAL, "P3": APPROVAL, "P4": APPROVAL},
    2: {"P0": APPROVAL, "P1": APPROVAL, "P2": ALLOW, "P3": ALLOW, "P4": ALLOW},
    3: {"P0": APPROVAL, "P1": ALLOW, "P2": ALLOW, "P3": ALLOW, "P4": ALLOW},
}
USERS_APPROVAL_AT_LEVEL_2 = 10
USERS_APPROVAL_ALWAYS = 100


@dataclass(frozen=True)
class Decision:
    verdict: str
    rule: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def passes(self) -> bool:
        return self.verdict in (ALLOW, NOTIFY)

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason, "numbers": self.numbers}

    def enforce(self) -> None:
        """For a step a person asked for: anything but allow/notify is a refusal (exit 3) naming the rule."""
        if not self.passes:
            raise PolicyRefused(self.reason, rule=self.rule)


@dataclass(frozen=True)
class Verdict:
    """Several decisions and the strictest of them."""

    decision: Decision
    all: tuple[Decision, ...]

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    def blocking(self) -> list[Decision]:
        return [d for d in self.all if not d.passes]

    def as_dict(self) -> dict[str, Any]:
        return {**self.decision.as_dict(), "decisions": [d.as_dict() for d in self.all]}


def combine(*decisions: Decision) -> Verdict:
    if not decisions:
        return Verdict(Decision(ALLOW, "policy.none", "nothing to decide"), ())
    worst = min(decisions, key=lambda d: _ORDER.index(d.verdict))
    if worst.verdict == ALLOW:
        worst = Decision(ALLOW, "policy", f"all {len(decisions)} rules allow: " + ", ".join(d.rule for d in decisions))
    return Verdict(worst, tuple(decisions))


def allow(rule: str, reason: str, **numbers: Any) -> Decision:
    return Decision(ALLOW, rule, reason, numbers)


def paused(state: dict[str, Any]) -> Decision:
    if state.get("paused"):
        return Decision(REFUSE, "paused", f"agent is paused ({state.get('reason') or 'no reason given'})")
    return allow("paused", "not paused")


def autonomy(level: int, severity: str) -> Decision:
    verdict = AUTONOMY.get(level, AUTONOMY[1]).get(severity, APPROVAL)
    if verdict == ALLOW:
        return allow("policy.autonomy_level", f"level {level} ships {severity} without a person", level=level, severity=severity)
    return Decision(APPROVAL, "policy.autonomy_level", f"level {level} needs a person to ship a {severity} fix", {"level": level, "severity": severity})


def affected_users(level: int, users: int) -> Decision:
    numbers = {"level": level, "affected_users": users}
    if users > USERS_APPROVAL_ALWAYS:
        return Decision(APPROVAL, "policy.affected_users", f"{users} users affected (> {USERS_APPROVAL_ALWAYS}): a person decides", numbers)
    if level <= 2 and users > USERS_APPROVAL_AT_LEVEL_2:
        return Decision(APPROVAL, "policy.affected_users", f"{users} users affected (> {USERS_APPROVAL_AT_LEVEL_2} at level {level})", numbers)
    return allow("policy.affected_users", f"{users} users affected", **numbers)


def confidence(value: float | None, policy: "PolicySection") -> Decision:
    numbers = {"confidence": value, "auto": policy.min_confidence_auto, "notify": policy.min_confidence_notify,
               "approval": policy.min_confidence_approval}
    if value is None:
        return Decision(APPROVAL, "policy.min_confidence_approval", "no confidence given: a person decides", numbers)
    if value >= policy.min_confidence_auto:
        return allow("policy.min_confidence_auto", f"confidence {value:.2f} >= {policy.min_confidence_auto:.2f}", **numbers)
    if value >= policy.min_confidence_notify:
        return Decision(NOTIFY, "policy.min_confidence_notify",
                        f"confidence {value:.2f} >= {policy.min_confidence_notify:.2f}: ships after a {policy.cancel_window_s}s cancel window", numbers)
    if value >= policy.min_confidence_approval:
        return Decision(APPROVAL, "policy.min_confidence_approval",
                        f"confidence {value:.2f} >= {policy.min_confidence_approval:.2f} but < {policy.min_confidence_notify:.2f}: needs approval", numbers)
    return Decision(REFUSE, "policy.min_confidence_approval",
                    f"confidence {value:.2f} < {policy.min_confidence_approval:.2f}: escalate to a person, no fix", numbers)


def evidence(kind: str | None) -> Decision:
    if kind in ("regression_test", "related_failure_fixed"):
        return allow("fix.evidence", f"evidence: {kind}", evidence=kind)
    return Decision(APPROVAL, "fix.evidence", f"evidence {kind or 'none'}: no test shows the fix removes the failure", {"evidence": kind})


def files(changed: list[str], approval_reasons: list[str], policy: "PolicySection") -> Decision:
    numbers = {"files": len(changed), "max_files_changed": policy.max_files_changed}
    if len(changed) > policy.max_files_changed:
        return Decision(REFUSE, "policy.max_files_changed", f"{len(changed)} files changed (> {policy.max_files_changed})", numbers)
    if approval_reasons:
        return Decision(APPROVAL, "policy.approval_paths", "; ".join(approval_reasons)[:500], {**numbers, "reasons": approval_reasons})
    return allow("policy.approval_paths", f"{len(changed)} files, none needs approval", **numbers)


def rate(rule: str, used: int | None, limit: int, what: str) -> Decision:
    """A sliding-window limit; `used` None means it could not be counted: refuse (fail closed)."""
    if used is None:
        return Decision(REFUSE, rule, f"{what} cannot be counted; refusing (fail closed)", {"limit": limit})
    if used >= limit:
        return Decision(WAIT, rule, f"{used} {what} (limit {limit})", {"used": used, "limit": limit})
    return allow(rule, f"{used} {what} (limit {limit})", used=used, limit=limit)


def business_hours(now: datetime, policy: "PolicySection", severity: str) -> Decision:
    if not policy.business_hours:
        return allow("policy.business_hours", "any time")
    if severity in ("P0", "P1"):
        return allow("policy.business_hours", f"{severity} is exempt from business hours")
    from zoneinfo import ZoneInfo

    start_s, end_s = policy.business_hours.split("-")
    local = now.astimezone(ZoneInfo(policy.timezone))
    start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start <= end else (t >= start or t < end)  # a window may cross midnight
    numbers = {"local_time": local.strftime("%H:%M"), "business_hours": policy.business_hours, "timezone": policy.timezone}
    if inside:
        return allow("policy.business_hours", f"{numbers['local_time']} {policy.timezone} is within {policy.business_hours}", **numbers)
    return Decision(WAIT, "policy.business_hours", f"{numbers['local_time']} {policy.timezone} is outside {policy.business_hours}", numbers)


def issue_status(status: str, allowed: tuple[str, ...], what: str) -> Decision:
    if status in allowed:
        return allow("issue.status", f"issue is {status}")
    return Decision(REFUSE, "issue.status", f"issue is {status}; {what} needs {' or '.join(allowed)}", {"status": status})


def never_again(status: str) -> Decision:
    if status == "needs_human":
        return Decision(REFUSE, "issue.needs_human", "issue needs a person; never auto-fixed again", {"status": status})
    return allow("issue.needs_human", f"issue is {status}")
