"""Release end to end: the demo shop on a real bare origin, deployed by its own script to apps on free 127.0.0.1 ports,
probed for real, with real traffic. Each test is one thing a user relies on when the agent ships their code."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AGENT_BIN, git
from tests.release_env import DEMO, Release, detect_bug, free_port, get, make_release, push_change, ready_fix, shop_fixed

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the demo's deploy scripts are POSIX sh")


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Release]:
    overrides = getattr(request, "param", {})
    rel = make_release(tmp_path, monkeypatch, **overrides)
    try:
        yield rel
    finally:
        rel.stop()


def _bad_health_shop() -> str:
    """The coupon guard back (the fix) with a "readiness" rule that fails /health: the tests pass, the site is down."""
    text = (DEMO / "scenarios" / "bad_health.py").read_text()
    assert "if coupon is None" in text and "503" in text
    return text


def _verdicts(rel: Release, deployment: int) -> list[str]:
    return [r["verdict"] for r in rel.state_rows("SELECT verdict FROM health_samples WHERE deployment_id = ? ORDER BY id", [deployment])]


def _issue(rel: Release, issue_id: int) -> dict:
    return rel.state_rows("SELECT * FROM issues WHERE id = ?", [issue_id])[0]


# --- the whole way: scan, diagnose, fix, staging, production ------------------------------------------------------


def test_good_fix_goes_staging_then_production_and_resolves_the_issue(release: Release) -> None:
    issue = detect_bug(release)
    cli = release.project.cli
    assert cli("diagnose").exit_code == 0
    fixed = cli("fix", str(issue))
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    main_before = release.branch("main")

    deployed = cli("--json", "deploy", str(issue), "--env", "staging")
    assert deployed.exit_code == 0, deployed.stderr
    d = deployed.json()
    assert d["status"] == "monitoring" and release.branch("staging") == d["sha"]
    assert release.branch("main") == main_before  # production untouched by a staging deploy
    assert get(release.url("staging", "/orders/2/total")) == 200  # staging serves the fix

    # Production before staging is verified: refused, with the rule.
    early = cli("deploy", str(issue), "--env", "production")
    assert early.exit_code == 3 and "deploy.staging_first" in early.stderr

    traffic = release.background("staging", ["/orders/2/total", "/orders/1/total", "/users/1"])
    verified = cli("--json", "verify", "--wait")
    traffic.stop()
    assert verified.exit_code == 0, verified.stderr
    staging = verified.json()["deployments"][0]
    assert staging["phase"] == "healthy" and staging["rule"] == "verify.min_successful_samples"
    assert {c["check"] for c in staging["checks"]} == {"health", "error_rate", "issue"}
    assert _issue(release, issue)["status"] == "staging"

    traffic = release.background("production", ["/orders/2/total", "/orders/1/total", "/users/1"])
    prod = cli("--json", "deploy", str(issue), "--env", "production")
    assert prod.exit_code == 0, prod.stderr
    verified = cli("--json", "verify", "--wait")
    traffic.stop()
    assert verified.json()["deployments"][0]["phase"] == "healthy"
    row = _issue(release, issue)
    assert row["status"] == "resolved" and row["resolved_at"] and row["watch_until"] > row["resolved_at"]
    assert get(release.url("production", "/orders/2/total")) == 200
    assert "if coupon is None" in release.file_on("main", "shop.py")

    # The fingerprint stays watched: the same failure again (a line like the old ones) reopens it as this fix's regression.
    log = release.root.parent / "servers" / "production" / "logs" / "app.log"
    old_error = next(line for line in log.read_text().splitlines() if '"level": "error"' in line)
    with log.open("a") as f:
        f.write(old_error + "\n")
    rescan = cli("--json", "scan")
    assert rescan.exit_code == 0
    assert _issue(release, issue)["status"] == "detected", rescan.stdout
    reopened = release.audit("reopened")[-1]["reason"]
    assert "regression of fix" in reopened and "post-fix watch" in reopened

    # Every move of both deployments is on the audit trail, with its reason.
    moves = [(a["decision"], a["reason"]) for a in release.audit("deployment:")]
    assert [m[0] for m in moves] == ["deployment:monitoring", "deployment:healthy"] * 2
    assert all(reason for _, reason in moves)
    assert cli("audit", "verify").exit_code == 0


# --- what goes wrong after a deploy -----------------------------------------------------------------------------


def test_fix_that_passes_tests_but_breaks_health_is_rolled_back(release: Release) -> None:
    issue = detect_bug(release)
    before = release.file_on("staging", "shop.py")
    main_before = release.branch("main")
    ready_fix(release, issue, {"shop.py": _bad_health_shop()}, "guard the coupon, add a readiness check")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    assert get(release.url("staging", "/health")) == 503

    traffic = release.background("staging", ["/orders/1/total", "/users/1"])
    result = release.project.cli("--json", "verify", "--wait")
    traffic.stop()
    assert result.exit_code == 0, result.stderr
    d = result.json()["deployments"][0]
    assert d["phase"] == "rolled_back"
    assert _verdicts(release, d["deployment"]) == ["failed"] * 3  # max_consecutive_failures, then decided at once
    assert release.file_on("staging", "shop.py") == before  # reverted on the branch, pushed forward
    assert git(release.origin, "log", "-1", "--format=%B", "staging").count("Agent-Rollback-Of:") >= 1
    assert get(release.url("staging", "/health")) == 200  # rollback_command redeployed: healthy again
    assert release.branch("main") == main_before  # production never saw it
    row = _issue(release, issue)
    assert row["status"] == "rolled_back" and row["rollbacks"] == 1
    report = Path(d["rollback"]["incident"])
    text = report.read_text()
    assert "HTTP 503" in text and "rolled back" in text and report.parent.name == "reports"
    assert release.state_rows("SELECT COUNT(*) AS n FROM incidents")[0]["n"] == 1


def test_fix_that_does_not_remove_the_error_is_rolled_back_as_still_occurring(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"README.md": "The demo shop.\n"}, "touch the readme")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    traffic = release.background("staging", ["/orders/2/total", "/orders/1/total", "/users/1"])
    result = release.project.cli("--json", "verify", "--wait")
    traffic.stop()
    d = result.json()["deployments"][0]
    assert d["phase"] == "rolled_back"
    assert "issue still occurring" in d["rollback"]["reason"]
    assert any(c["check"] == "issue" and c["verdict"] == "failed" for c in d["checks"])
    assert _issue(release, issue)["status"] == "rolled_back"


@pytest.mark.parametrize("release", [{"staging": {"monitor_s": 60}}], indirect=True)
def test_unreachable_health_url_counts_errors_not_failures(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard the coupon")
    closed = free_port()
    config = release.project.config
    config.write_text(config.read_text().replace(f"127.0.0.1:{release.ports['staging']}/health", f"127.0.0.1:{closed}/health"))
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    traffic = release.background("staging", ["/orders/2/total", "/users/1"])
    phases = []
    for _ in range(5):
        time.sleep(1.05)  # one sample per interval_s
        phases.append(release.project.cli("--json", "verify").json()["deployments"][0]["phase"])
    traffic.stop()
    # Four readings that could not be taken are the limit, not over it: still watched. The fifth degrades; the
    # revert is pushed, but the URL still cannot be read, so the rollback is not shown to work: failed, escalated.
    assert phases == ["monitoring"] * 4 + ["rollback_failed"]
    assert release.audit("escalated")
    dep = release.deployments()[-1]
    assert _verdicts(release, dep["id"]) == ["error"] * 5
    degraded = [a for a in release.audit("deployment:degraded")]
    assert "verify.max_consecutive_errors" in degraded[0]["reason"]


@pytest.mark.parametrize("release", [{"staging": {"max_consecutive_failures": 2}}], indirect=True)
def test_latency_regression_degrades(release: Release) -> None:
    issue = detect_bug(release)
    slow = shop_fixed().replace('    return 200, {"status": "ok"}', '    import time\n    time.sleep(0.6)\n    return 200, {"status": "ok"}')
    assert slow != shop_fixed()
    ready_fix(release, issue, {"shop.py": slow}, "guard the coupon (and a slow health check)")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    traffic = release.background("staging", ["/orders/1/total", "/users/1"])
    d = release.project.cli("--json", "verify", "--wait").json()["deployments"][0]
    traffic.stop()
    assert d["phase"] == "rolled_back"
    health = [c for c in d["checks"] if c["check"] == "health"][0]
    assert health["verdict"] == "failed" and "latency" in health["detail"]
    assert health["numbers"]["latency_ms"] > health["numbers"]["limit_ms"]


@pytest.mark.parametrize("release", [{"staging": {"max_consecutive_failures": 2}}], indirect=True)
def test_error_rate_regression_from_the_log_source_degrades(release: Release) -> None:
    issue = detect_bug(release)
    broken = shop_fixed().replace("def find_user(user_id: int) -> dict | None:\n", "def find_user(user_id: int) -> dict | None:\n    raise KeyError(user_id)\n")
    assert broken != shop_fixed()
    ready_fix(release, issue, {"shop.py": broken}, "guard the coupon (and break users)")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    traffic = release.background("staging", ["/users/1", "/users/2", "/orders/1/total"])
    d = release.project.cli("--json", "verify", "--wait").json()["deployments"][0]
    traffic.stop()
    assert d["phase"] == "rolled_back"
    rate = [c for c in d["checks"] if c["check"] == "error_rate"][0]
    assert rate["verdict"] == "failed" and rate["numbers"]["rate"] > rate["numbers"]["limit_rate"]
    # The new KeyError's culprit is a line this deploy added: named as such.
    assert any(c["check"] == "new_issue" and c["verdict"] == "failed" and "shop.py" in c["detail"] for c in d["checks"])


@pytest.mark.parametrize("release", [{"staging": {"min_requests": 1000, "monitor_s": 3}}], indirect=True)
def test_too_little_traffic_ends_inconclusive_and_holds(release: Release) -> None:
    issue = detect_bug(release)
    sha = ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard the coupon")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    d = release.project.cli("--json", "verify", "--wait").json()["deployments"][0]
    assert d["phase"] == "inconclusive" and d["held"]
    assert set(_verdicts(release, d["deployment"])) == {"inconclusive"}
    # Neither promoted nor rolled back: the fix stays on staging, the issue waits, a person is asked.
    assert git(release.origin, "merge-base", "--is-ancestor", sha, "staging") == ""
    assert _issue(release, issue)["status"] == "staging"
    approvals = release.state_rows("SELECT * FROM approvals")
    assert len(approvals) == 1 and approvals[0]["status"] == "pending" and approvals[0]["gate"] == "verify" and approvals[0]["deployment_id"] == d["deployment"]
    assert release.deployments()[-1]["status"] == "inconclusive"
    shown = release.project.cli("--json", "status").json()["deployments"]
    assert [(d["status"], d["last_verdict"]) for d in shown] == [("inconclusive", "inconclusive")]
    assert release.project.cli("deploy", str(issue), "--env", "production").exit_code == 3


def test_third_rollback_of_an_issue_needs_a_human(release: Release) -> None:
    issue = detect_bug(release)
    for n in range(1, 4):
        ready_fix(release, issue, {"shop.py": shop_fixed() + f"\n# attempt {n}\n"}, f"attempt {n}")
        assert release.project.cli("deploy", str(issue)).exit_code == 0
        result = release.project.cli("--json", "rollback", "--env", "staging", "--reason", f"responder {n}")
        assert result.exit_code == 0, result.stderr
        assert result.json()["issue_status"] == ("needs_human" if n == 3 else "rolled_back")
    row = _issue(release, issue)
    assert row["status"] == "needs_human" and row["rollbacks"] == 3
    assert "policy.max_rollbacks_per_issue" in release.audit("status:needs_human")[-1]["details"]


# --- what goes wrong during a deploy ----------------------------------------------------------------------------


def test_push_refused_by_a_pre_receive_hook_fails_cleanly(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard the coupon")
    hook = release.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'deploys are frozen until Monday' >&2\nexit 1\n")
    hook.chmod(0o755)
    staging_before = release.branch("staging")
    running_before = (release.root.parent / "servers" / "staging" / "sha").read_text()
    result = release.project.cli("deploy", str(issue))
    assert result.exit_code == 1
    assert "deploys are frozen until Monday" in result.stderr and "Traceback" not in result.stderr
    assert release.branch("staging") == staging_before
    assert (release.root.parent / "servers" / "staging" / "sha").read_text() == running_before  # deploy_command never ran
    dep = release.deployments()[-1]
    assert dep["status"] == "failed" and "frozen" in dep["reason"]
    assert _issue(release, issue)["status"] == "fix_ready"


@pytest.mark.parametrize("release", [{"staging": {"status_command": "exit 1", "deploy_timeout_s": 2}}], indirect=True)
def test_status_command_that_never_succeeds_times_out_and_undoes_the_push(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard the coupon")
    before = release.branch("staging")
    result = release.project.cli("deploy", str(issue))
    assert result.exit_code == 1 and "never succeeded within deploy_timeout_s" in result.stderr
    after = release.branch("staging")
    # Not half-done: the branch says what should run again (a revert pushed forward, no force-push).
    assert git(release.origin, "merge-base", "--is-ancestor", before, after) == ""
    assert git(release.origin, "rev-parse", f"{before}^{{tree}}") == git(release.origin, "rev-parse", f"{after}^{{tree}}")
    assert release.deployments()[-1]["status"] == "failed"
    assert release.audit("undone")
    assert _issue(release, issue)["status"] == "fix_ready"


def test_remote_moved_during_push_is_merged_again_and_retried(release: Release, tmp_path: Path) -> None:
    from agent_cli.config import load_settings
    from agent_cli.gitrepo import GitRepo, committer_env
    from agent_cli.release import branch

    other = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", "-b", "staging", str(release.origin), str(other)], check=True)
    settings = load_settings(release.project.config)
    env = settings.environment("staging")
    repo = GitRepo(release.root)
    fix_sha = ready_fix(release, detect_bug(release), {"shop.py": shop_fixed()}, "guard")
    heads: list[str] = []

    def make(tree: GitRepo, head: str) -> str:
        heads.append(head)
        if len(heads) == 1:  # a colleague pushes between our fetch and our push
            (other / "NOTES.md").write_text("release notes\n")
            git(other, "add", "NOTES.md")
            git(other, "commit", "-q", "-m", "notes")
            git(other, "pull", "-q", "--no-rebase", "origin", "staging")
            git(other, "push", "-q", "origin", "HEAD:staging")
        return tree.merge(fix_sha, "merge fix", committer_env(settings.agent.committer))

    pushed = branch.push_change(settings, repo, env, make, what="deploy")
    assert pushed.retried and len(heads) == 2 and heads[0] != heads[1]
    assert git(release.origin, "show", "staging:NOTES.md") == "release notes"  # the colleague's commit kept
    assert "if coupon is None" in release.file_on("staging", "shop.py")


# --- the responder ------------------------------------------------------------------------------------------------


def test_rollback_to_a_ref_reverts_commits_pushed_by_hand(release: Release) -> None:
    release.start("production", "main")
    good = release.branch("main")
    push_change(release, "hotfix 1", {"NOTES.md": "one\n"}, branches=("main",))
    push_change(release, "hotfix 2", {"shop.py": (DEMO / "scenarios" / "bug_none.py").read_text()}, branches=("main",))
    bad = release.branch("main")
    result = release.project.cli("--json", "rollback", "--env", "production", "--to", good, "--reason", "checkout errors")
    assert result.exit_code == 0, result.stderr
    r = result.json()
    assert r["status"] == "rolled_back" and len(r["reverted"]) == 2
    head = release.branch("main")
    assert git(release.origin, "rev-parse", f"{head}^{{tree}}") == git(release.origin, "rev-parse", f"{good}^{{tree}}")
    assert git(release.origin, "merge-base", "--is-ancestor", bad, head) == ""  # forward, never a force-push
    message = git(release.origin, "log", "-1", "--format=%B", "main")
    assert message.count("Agent-Rollback-Of:") == 2 and "checkout errors" in message
    assert release.deployments()[-1]["kind"] == "rollback"
    assert get(release.url("production", "/orders/2/total")) == 200  # rollback_command redeployed main


def test_rollback_with_strategy_reset_puts_the_branch_back_exactly(release: Release) -> None:
    release.start("production", "main")
    good = release.branch("main")
    push_change(release, "hotfix", {"NOTES.md": "x\n"}, branches=("main",))
    result = release.project.cli("--json", "rollback", "--env", "production", "--to", good, "--strategy", "reset")
    assert result.exit_code == 0, result.stderr
    assert release.branch("main") == good  # no new commit: the head itself moved back (force-with-lease)


def test_rollback_while_paused_needs_force(release: Release) -> None:
    release.start("production", "main")
    good = release.branch("main")
    push_change(release, "hotfix", {"NOTES.md": "x\n"}, branches=("main",))
    assert release.project.cli("scan").exit_code == 0
    assert release.project.cli("pause", "--reason", "incident").exit_code == 0
    refused = release.project.cli("rollback", "--env", "production", "--to", good)
    assert refused.exit_code == 3 and "paused" in refused.stderr
    assert release.project.cli("rollback", "--env", "production", "--to", good, "--force").exit_code == 0
    assert git(release.origin, "rev-parse", "main^{tree}") == git(release.origin, "rev-parse", f"{good}^{{tree}}")
    assert release.audit("forced")


def test_forced_rollback_waits_for_the_lock_then_runs_and_the_records_show_the_order(release: Release) -> None:
    release.start("production", "main")
    good = release.branch("main")
    push_change(release, "hotfix", {"NOTES.md": "x\n"}, branches=("main",))
    assert release.project.cli("scan").exit_code == 0
    assert release.project.cli("pause", "--reason", "incident").exit_code == 0
    # The holder keeps the lock until this test says so: the forced rollback is seen waiting, whatever the machine's load.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom pathlib import Path\nfrom agent_cli.config import load_settings\nfrom agent_cli.runner import locked_run\n"
         "with locked_run(load_settings(Path(sys.argv[1])), 'verify'):\n    print('held', flush=True)\n    sys.stdin.readline()\n",
         str(release.project.config)], cwd=Path(__file__).resolve().parents[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    forced = None
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = release.project.run("rollback", "--env", "production", "--to", good)  # without --force: 75 at once
        assert busy.exit_code == 75
        forced = subprocess.Popen([str(AGENT_BIN), "-c", str(release.project.config), "rollback", "--env", "production", "--to", good,
                                   "--force", "--reason", "pager"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=release.root)
        assert forced.stderr is not None
        waiting = forced.stderr.readline()
        assert "waiting up to 600s for the run lock" in waiting and "(agent verify)" in waiting  # it waits, naming the holder
        assert forced.poll() is None  # and is still waiting while the lock is held
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        out, err = forced.communicate(timeout=120)
        assert forced.returncode == 0, err
    finally:
        if holder.poll() is None and holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=30)
        if forced is not None and forced.poll() is None:
            forced.kill()
    runs = {r["command"]: r for r in release.state_rows("SELECT * FROM runs WHERE command IN ('verify', 'rollback') ORDER BY started_at")}
    assert runs["rollback"]["started_at"] >= runs["verify"]["finished_at"]
    assert runs["rollback"]["outcome"] == "ok"
    assert git(release.origin, "rev-parse", "main^{tree}") == git(release.origin, "rev-parse", f"{good}^{{tree}}")


def test_deploy_refuses_while_paused(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard")
    release.project.cli("pause", "--reason", "freeze")
    before = release.branch("staging")
    result = release.project.cli("deploy", str(issue))
    assert result.exit_code == 3 and "paused" in result.stderr
    assert release.branch("staging") == before and release.deployments() == []
