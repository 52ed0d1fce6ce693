"""The gates through the commands: `agent run` and a person's `agent deploy` / `agent rollback` decide with the same
function, in their own mode, on the demo shop with a real bare remote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.release_env import Release, detect_bug, make_release, ready_fix, shop_fixed


@pytest.fixture
def fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Release, int]]:
    rel = make_release(tmp_path, monkeypatch)
    try:
        issue = detect_bug(rel)
        ready_fix(rel, issue, {"shop.py": shop_fixed()}, "guard")
        yield rel, issue
    finally:
        rel.stop()


def rules(verdict: dict) -> dict[str, str]:
    return {d["rule"]: d["verdict"] for d in verdict["decisions"]}


def test_run_and_a_person_evaluate_the_same_deploy_gate_in_their_modes(fixed: tuple[Release, int]) -> None:
    rel, issue = fixed
    cli = rel.project.cli
    # agent run at level 1: the autonomy matrix asks a person.
    run = cli("--json", "run", "--level", "1", "--dry-run").json()
    (decision,) = [a["decision"] for a in run["actions"] if a["step"] == "approvals" and a["issue"] == issue]
    assert decision["verdict"] == "approval" and rules(decision)["policy.autonomy_level"] == "approval"
    # The person's deploy: the same rules, and their command is the approval.
    manual = cli("--json", "deploy", str(issue), "--dry-run").json()
    assert manual["verdict"] == "allow" and set(rules(manual)) == set(rules(decision))
    level = next(d for d in manual["decisions"] if d["rule"] == "policy.autonomy_level")
    assert level["verdict"] == "allow" and level["reason"].startswith("a person asked for it (manual): level 1 needs a person")
    assert rel.deployments() == []  # a dry run changes nothing


def test_a_person_is_bound_by_the_rate_limit_and_the_kill_switch(fixed: tuple[Release, int]) -> None:
    rel, issue = fixed
    cli = rel.project.cli
    config = rel.project.config
    staging = rel.branch("staging")
    config.write_text(config.read_text().replace("[policy]\n", "[policy]\nmax_deploys_per_day = 0\n", 1))
    limited = cli("deploy", str(issue))
    assert limited.exit_code == 3 and "policy.max_deploys_per_day" in limited.stderr
    config.write_text(config.read_text().replace("max_deploys_per_day = 0\n", "", 1))
    assert cli("pause", "--reason", "freeze").exit_code == 0
    paused = cli("deploy", str(issue))
    assert paused.exit_code == 3 and "rule: paused" in paused.stderr
    assert rel.deployments() == [] and rel.branch("staging") == staging
    refused = cli("rollback", "--env", "staging")
    assert refused.exit_code == 3 and "rule: paused" in refused.stderr
    forced = cli("--json", "rollback", "--env", "staging", "--force", "--reason", "pager")
    assert forced.exit_code == 0, forced.stderr
    assert forced.json()["status"] == "nothing_to_do"  # passed the kill switch; there was no agent deployment to undo
    assert any(a["decision"] == "forced" and "a person asked for it (forced)" in a["reason"] for a in rel.audit("forced"))
