"""The gates as tables: every rule, in every mode, with the override table the README prints."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from agent_cli import gates
from agent_cli.config import PolicySection
from agent_cli.gates import AUTO, FORCED, MANUAL, DeployFacts, FixFacts, RollbackFacts
from agent_cli.policy import ALLOW, APPROVAL, NOTIFY, REFUSE, WAIT

RULES = PolicySection(business_hours="09:00-18:00", timezone="UTC")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
NIGHT = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
PAUSED = {"paused": True, "reason": "incident"}

FIX = FixFacts(issue_id=1, status="diagnosed", paused={}, auto_fixable=True, auto_fixable_reason="in-repo frame", confidence=0.95,
               fixes_last_hour=0, has_fix=False)
DEPLOY = DeployFacts(issue_id=1, env="staging", level=3, severity="P2", status="fix_ready", paused={}, affected_users=1, confidence=0.95,
                     evidence="regression_test", files=["app.py"], approval_reasons=[], deploys_last_day=0, now=NOON)


def verdicts(verdict) -> dict[str, str]:
    return {d.rule: d.verdict for d in verdict.all}


# (facts change, the rule it trips, verdict in auto, manual, forced)
DEPLOY_TABLE = [
    ({}, "policy", ALLOW, ALLOW, ALLOW),
    ({"paused": PAUSED}, "paused", REFUSE, REFUSE, ALLOW),
    ({"level": 1}, "policy.autonomy_level", APPROVAL, ALLOW, ALLOW),
    ({"severity": "P0"}, "policy.autonomy_level", APPROVAL, ALLOW, ALLOW),
    ({"affected_users": 500}, "policy.affected_users", APPROVAL, ALLOW, ALLOW),
    ({"confidence": 0.75}, "policy.min_confidence_notify", NOTIFY, ALLOW, ALLOW),
    ({"confidence": 0.6}, "policy.min_confidence_approval", APPROVAL, ALLOW, ALLOW),
    ({"confidence": 0.2}, "policy.min_confidence_approval", REFUSE, REFUSE, REFUSE),  # below the floor: never shipped
    ({"evidence": "none"}, "fix.evidence", APPROVAL, ALLOW, ALLOW),
    ({"approval_reasons": ["package.json needs approval"]}, "policy.approval_paths", APPROVAL, ALLOW, ALLOW),
    ({"files": [f"f{i}.py" for i in range(11)]}, "policy.max_files_changed", REFUSE, REFUSE, REFUSE),
    ({"deploys_last_day": 10}, "policy.max_deploys_per_day", WAIT, WAIT, WAIT),
    ({"deploys_last_day": None}, "policy.max_deploys_per_day", REFUSE, REFUSE, REFUSE),  # cannot count: fail closed
    ({"now": NIGHT}, "policy.business_hours", WAIT, ALLOW, ALLOW),
    ({"has_fix": False}, "deploy.fix", REFUSE, REFUSE, REFUSE),
    ({"status": "diagnosed"}, "issue.status", REFUSE, REFUSE, REFUSE),
    ({"busy": "deployment 4 to staging is monitoring"}, "deploy.env_busy", REFUSE, REFUSE, REFUSE),
    ({"env": "production", "staging_required": True}, "deploy.staging_first", REFUSE, REFUSE, REFUSE),
    ({"env": "production", "staging_required": True, "staging_healthy": True}, "policy", ALLOW, ALLOW, ALLOW),
]


@pytest.mark.parametrize("change, rule, auto, manual, forced", DEPLOY_TABLE)
def test_deploy_gate_table(change: dict, rule: str, auto: str, manual: str, forced: str) -> None:
    facts = replace(DEPLOY, **change)
    for mode, expected in ((AUTO, auto), (MANUAL, manual), (FORCED, forced)):
        verdict = gates.deploy_gate(facts, RULES, mode)
        assert verdict.verdict == expected, (mode, verdict.as_dict())
        if expected != ALLOW:
            assert verdict.decision.rule == rule  # the refusal names its rule
        elif rule != "policy":
            passed = next(d for d in verdict.all if d.rule == rule)
            assert passed.reason.startswith(f"a person asked for it ({mode}): ")  # overridden, and it says so


FIX_TABLE = [
    ({}, "policy", ALLOW, ALLOW),
    ({"paused": PAUSED}, "paused", REFUSE, REFUSE),
    ({"status": "needs_human"}, "issue.needs_human", REFUSE, ALLOW),  # agent run never picks it; a person may
    ({"status": "resolved"}, "issue.status", REFUSE, REFUSE),
    ({"diagnosed": False}, "issue.status", REFUSE, REFUSE),
    ({"has_fix": True}, "fix.exists", REFUSE, REFUSE),
    ({"has_fix": True, "again": True}, "policy", ALLOW, ALLOW),
    ({"auto_fixable": False, "auto_fixable_reason": "no in-repo frame"}, "scan.auto_fixable", APPROVAL, ALLOW),
    ({"confidence": 0.6}, "policy", ALLOW, ALLOW),  # the approval band may build a branch
    ({"confidence": 0.2}, "policy.min_confidence_approval", REFUSE, REFUSE),
    ({"fixes_last_hour": 5}, "policy.max_fixes_per_hour", WAIT, WAIT),
    ({"validation_commands": False}, "validate.commands", REFUSE, REFUSE),
    ({"validation_commands": False, "fixes_last_hour": 5, "dry_run": True}, "policy", ALLOW, ALLOW),  # a dry run commits nothing
    ({"has_fix": True, "dry_run": True}, "policy", ALLOW, ALLOW),
]


@pytest.mark.parametrize("change, rule, auto, manual", FIX_TABLE)
def test_fix_gate_table(change: dict, rule: str, auto: str, manual: str) -> None:
    facts = replace(FIX, **change)
    for mode, expected in ((AUTO, auto), (MANUAL, manual)):
        verdict = gates.fix_gate(facts, RULES, mode)
        assert verdict.verdict == expected, (mode, verdict.as_dict())
        if expected != ALLOW:
            assert verdict.decision.rule == rule


def test_rollback_gate_passes_the_kill_switch_only_when_forced() -> None:
    paused = RollbackFacts(paused=PAUSED)
    assert gates.rollback_gate(paused, MANUAL).decision.rule == "paused"
    assert gates.rollback_gate(paused, FORCED).verdict == ALLOW
    assert gates.rollback_gate(RollbackFacts(paused={}), MANUAL).verdict == ALLOW


def test_the_override_table_is_the_one_the_readme_prints() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for rule, auto, manual, forced in gates.override_table():
        assert f"| `{rule}` | {auto} | {manual} | {forced} |" in readme, rule
    # Every rule a gate can name and no table row lists holds in every mode.
    assert "rules not listed hold in every mode" in readme
