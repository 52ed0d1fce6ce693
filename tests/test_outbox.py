"""The outbox: a step records its domain event with the change, and whichever command ran it sends it."""

from __future__ import annotations

from agent_cli import outbox
from agent_cli.state import State
from tests.release_env import Release
from tests.test_gates_wired import fixed  # noqa: F401  (the demo shop with a fix ready)
from tests.test_run import webhook  # noqa: F401  (the local receiver fixture)


def test_a_persons_deploy_and_forced_rollback_notify_like_a_cron_run(fixed: tuple[Release, int], webhook: list[dict]) -> None:  # noqa: F811
    rel, issue = fixed
    cli = rel.project.cli
    detected = [m for m in webhook if m["event"] == "issue_detected"]
    assert detected == []  # the scan ran before the webhook was configured: its event went to no channel
    deployed = cli("--json", "deploy", str(issue))
    assert deployed.exit_code == 0, deployed.stderr
    assert [m["event"] for m in webhook] == ["deployed"]
    rolled = cli("--json", "rollback", "--env", "staging", "--force", "--reason", "pager")
    assert rolled.exit_code == 0, rolled.stderr
    assert [m["event"] for m in webhook] == ["deployed", "rolled_back"]
    assert "pager" in webhook[-1]["message"]
    # Draining again sends nothing twice.
    assert cli("scan").exit_code == 0
    assert [m["event"] for m in webhook] == ["deployed", "rolled_back"]


def test_an_event_a_killed_run_recorded_goes_out_with_the_next_command(fixed: tuple[Release, int], webhook: list[dict]) -> None:  # noqa: F811
    rel, issue = fixed
    with State.open(rel.project.state) as state:  # what a step wrote with its change before the process died
        outbox.record(state, "needs_human", issue_id=issue, title="the fix was cancelled", message="cancelled by a person",
                      key=f"needs_human:{issue}:test")
    assert webhook == []
    assert rel.project.cli("scan").exit_code == 0  # any command that holds the lock drains the outbox
    assert [(m["event"], m["issue"]["id"]) for m in webhook] == [("needs_human", issue)]
