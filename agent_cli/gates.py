"""The gates: policy's rules composed for building a fix, shipping it to an environment, and rolling back.

Each gate takes the facts a step gathered (counts, confidence, files, the clock's time) and a
mode, and returns the verdict over *all* its rules, so `agent run`, a person's `agent fix` /
`agent deploy` / `agent rollback`, and `--dry-run` on either path decide the same way:
- `auto`: `agent run` at its autonomy level; an approval or a wait holds the step.
- `manual`: a person typed the command, which is their approval: the rules in OVERRIDES for
  `manual` pass ("a person asked for it"), every other rule still holds.
- `forced`: `agent rollback --force`, for an incident: also passes the kill switch.
A refusal that protects the system (protected paths, the rate limits, staging first, one
deployment at a time, the confidence floor) is never overridden. The table is in the README
and tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent_cli import policy
from agent_cli.policy import ALLOW, REFUSE, Decision, Verdict

if TYPE_CHECKING:
    from agent_cli.config import PolicySection

AUTO, MANUAL, FORCED = "auto", "manual", "forced"
MODES = (AUTO, MANUAL, FORCED)

# Which rules a person's command passes, by mode. A rule not listed holds in every mode.
OVERRIDES: dict[str, frozenset[str]] = {
    "paused": frozenset({FORCED}),
    "policy.autonomy_level": frozenset({MANUAL, FORCED}),
    "policy.min_confidence_notify": frozenset({MANUAL, FORCED}),  # the cancel window: a person already decided
    "policy.min_confidence_approval": frozenset({MANUAL, FORCED}),  # the approval band; below the floor is a refusal, kept
    "policy.affected_users": frozenset({MANUAL, FORCED}),
    "policy.approval_paths": frozenset({MANUAL, FORCED}),
    "fix.evidence": frozenset({MANUAL, FORCED}),
    "policy.business_hours": frozenset({MANUAL, FORCED}),  # the person at the keyboard is on call
    "scan.auto_fixable": frozenset({MANUAL, FORCED}),  # a person may try a fix the scan thought unlikely
}


def override(verdict: Verdict, mode: str) -> Verdict:
    """`verdict` with the decisions a person's command passes in `mode` turned into allows (refusals stay, but `paused`)."""
    if mode == AUTO:
        return verdict
    kept: list[Decision] = []
    for d in verdict.all:
        passes = mode in OVERRIDES.get(d.rule, frozenset()) and (d.verdict != REFUSE or d.rule == "paused")
        kept.append(replace(d, verdict=ALLOW, reason=f"a person asked for it ({mode}): {d.reason}") if passes and d.verdict != ALLOW else d)
    return policy.combine(*kept)


# --- facts ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixFacts:
    """What the fix gate decides on, gathered by the step."""

    issue_id: int
    status: str
    paused: dict[str, Any]
    auto_fixable: bool
    auto_fixable_reason: str
    confidence: float | None
    fixes_last_hour: int | None
    has_fix: bool  # a committed fix exists already
    existing_branch: str = ""  # its branch
    again: bool = False  # replace it (`--again`, or a rolled-back fix in `agent run`)
    diagnosed: bool = True
    validation_commands: bool = True
    dry_run: bool = False


@dataclass(frozen=True)
class DeployFacts:
    issue_id: int
    env: str
    level: int
    severity: str
    status: str
    paused: dict[str, Any]
    affected_users: int
    confidence: float | None
    evidence: str | None
    files: list[str]
    approval_reasons: list[str]
    deploys_last_day: int | None
    now: datetime
    has_fix: bool = True
    fix_sha: str = ""
    busy: str = ""  # why the environment is taken ("deployment 4 to staging is monitoring"), '' when free
    staging_required: bool = False  # production after a staging environment that exists
    staging_healthy: bool = False  # the same fix was verified healthy there
    allowed_statuses: tuple[str, ...] = ("fix_ready",)


@dataclass(frozen=True)
class RollbackFacts:
    paused: dict[str, Any]


FIXABLE = ("diagnosed", "fix_ready", "needs_human", "rolled_back")


# --- the gates --------------------------------------------------------------------------------------------------------


def fix_gate(facts: FixFacts, rules: "PolicySection", mode: str) -> Verdict:
    """Build a fix (a branch, not a release): any confidence band from approval up may build; shipping is gated later."""
    band = policy.confidence(facts.confidence, rules)
    build = band if band.verdict == REFUSE else policy.allow(band.rule, band.reason, **band.numbers)
    fixable = (policy.allow("scan.auto_fixable", facts.auto_fixable_reason or "fixable") if facts.auto_fixable
               else Decision(policy.APPROVAL, "scan.auto_fixable", f"not auto-fixable: {facts.auto_fixable_reason or 'no in-repo frame'}"))
    decisions = [
        policy.paused(facts.paused),
        # agent run never picks an issue that needs a person; a person moves it on (manual).
        policy.never_again(facts.status) if mode == AUTO else policy.allow("issue.needs_human", f"issue is {facts.status}"),
        policy.issue_status(facts.status if facts.diagnosed else "undiagnosed", FIXABLE, f"`agent fix {facts.issue_id}` (a diagnosed issue)"),
        _exists(facts),
        fixable,
        build,
    ]
    if not facts.dry_run:  # a dry run commits nothing: no branch counted, nothing unvalidated can land
        decisions += [
            policy.rate("policy.max_fixes_per_hour", facts.fixes_last_hour, rules.max_fixes_per_hour, "fixes committed in the last hour"),
            policy.allow("validate.commands", "validation commands configured") if facts.validation_commands
            else Decision(REFUSE, "validate.commands", "no validation commands are configured"),
        ]
    return override(policy.combine(*decisions), mode)


def _exists(facts: FixFacts) -> Decision:
    if facts.has_fix and not (facts.again or facts.dry_run):
        return Decision(REFUSE, "fix.exists", f"issue {facts.issue_id} already has a fix on branch {facts.existing_branch}; "
                                              f"`agent fix {facts.issue_id} --again` replaces it")
    return policy.allow("fix.exists", "no committed fix" if not facts.has_fix else "the committed fix is replaced")


def deploy_gate(facts: DeployFacts, rules: "PolicySection", mode: str) -> Verdict:
    band = policy.confidence(facts.confidence, rules)
    if facts.env != "staging" and band.verdict == policy.NOTIFY:  # its cancel window was waited out before staging
        band = policy.allow(band.rule, band.reason, **band.numbers)
    decisions = [
        policy.paused(facts.paused),
        policy.allow("deploy.fix", f"fix {facts.fix_sha[:12]}") if facts.has_fix
        else Decision(REFUSE, "deploy.fix", f"issue {facts.issue_id} has no committed fix (run `agent fix {facts.issue_id}`)"),
        policy.issue_status(facts.status, facts.allowed_statuses, f"a deploy to {facts.env}"),
        Decision(REFUSE, "deploy.env_busy", f"{facts.busy}; one at a time per environment") if facts.busy
        else policy.allow("deploy.env_busy", f"{facts.env} is free"),
        _staging_first(facts),
        policy.autonomy(facts.level, facts.severity),
        policy.affected_users(facts.level, facts.affected_users),
        band,
        policy.evidence(facts.evidence),
        policy.files(facts.files, facts.approval_reasons, rules),
        policy.rate("policy.max_deploys_per_day", facts.deploys_last_day, rules.max_deploys_per_day, "deploys in the last 24 hours"),
        policy.business_hours(facts.now, rules, facts.severity),
    ]
    return override(policy.combine(*decisions), mode)


def _staging_first(facts: DeployFacts) -> Decision:
    if not facts.staging_required:
        return policy.allow("deploy.staging_first", "no staging step before this environment")
    if facts.staging_healthy:
        return policy.allow("deploy.staging_first", "the same fix was verified healthy on staging")
    return Decision(REFUSE, "deploy.staging_first", f"fix {facts.fix_sha[:12]} of issue {facts.issue_id} has not been verified healthy on staging")


def rollback_gate(facts: RollbackFacts, mode: str) -> Verdict:
    """A person's rollback (nothing to roll back is the step's own answer, not a refusal); an automatic one after a
    degraded sample is part of verify and never gated: rolling back is the safe direction."""
    return override(policy.combine(policy.paused(facts.paused)), mode)


def override_table() -> list[tuple[str, str, str, str]]:
    """(rule, auto, manual, forced): which rules a person's command passes; the README prints this."""
    def cell(rule: str, mode: str) -> str:
        return "passes" if mode in OVERRIDES.get(rule, frozenset()) else "holds"

    return [(rule, "holds", cell(rule, MANUAL), cell(rule, FORCED)) for rule in OVERRIDES]
