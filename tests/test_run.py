"""`agent run`: the whole cycle on the demo shop (real deploys, probes and traffic), approvals, the cancel window,
dry runs that change nothing, escalation below the confidence floor, limits counted from git, and crash repair."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AGENT_BIN, git
from tests.release_env import DEMO, Release, detect_bug, get, make_release, push_change, ready_fix, shop_fixed


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Release]:
    rel = make_release(tmp_path, monkeypatch, **getattr(request, "param", {}))
    try:
        yield rel
    finally:
        rel.stop()


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AGENT_NOTIFY__WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        yield Hook.received
    finally:
        server.shutdown()


def _snapshot(rel: Release) -> dict:
    con = sqlite3.connect(rel.project.state)
    try:
        tables = ("issues", "fixes", "deployments", "health_samples", "approvals", "events", "diagnoses")
        rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        con.close()
    refs = git(rel.root, "for-each-ref", "--format=%(refname) %(objectname)")
    return {"rows": rows, "refs": refs, "origin": git(rel.origin, "for-each-ref", "--format=%(refname) %(objectname)")}


@pytest.mark.parametrize("release", [{"policy": {"cancel_window_s": 1}}], indirect=True)
def test_run_cycles_take_a_fix_to_production_through_approvals_and_the_cancel_window(release: Release, webhook: list[dict]) -> None:
    push_change(release, "shop: simplify apply_coupon", {"shop.py": (DEMO / "scenarios" / "bug_none.py").read_text()})
    release.start("production", "main")
    release.start("staging", "staging")
    release.send("production", ["/orders/2/total", "/orders/1/total"], 3)
    release.background("staging", ["/orders/2/total", "/orders/1/total", "/users/1"])
    release.background("production", ["/orders/2/total", "/orders/1/total", "/users/1"])
    asked: list[str] = []
    for _ in range(40):
        result = release.project.cli("--json", "run", "--level", "3")
        assert result.exit_code == 0, result.stdout + result.stderr
        pending = release.project.cli("--json", "approvals").json()["approvals"]
        for row in pending:
            if row["gate"].startswith("deploy:"):  # the operator approves what the agent asks
                asked.append(row["gate"])
                assert release.project.cli("approve", str(row["id"]), "--note", "looked at the diff", "--by", "oncall").exit_code == 0
        issue = release.state_rows("SELECT status FROM issues WHERE title LIKE 'AttributeError%'")
        if issue and issue[0]["status"] == "resolved":
            break
        time.sleep(0.6)
    assert issue[0]["status"] == "resolved"
    # Evidence "none" (no test failed because of the bug) needs a person at each gate, even at level 3.
    assert asked == ["deploy:staging", "deploy:production"]
    used = release.state_rows("SELECT gate, status, consumed_at FROM approvals ORDER BY id")
    assert [(u["gate"], u["status"]) for u in used] == [("deploy:staging", "approved"), ("cancel_window", "lapsed"),
                                                        ("deploy:production", "approved")]
    assert all(u["consumed_at"] for u in used)  # each passed its gate once
    assert get(release.url("production", "/orders/2/total")) == 200
    events = [m["event"] for m in webhook]
    assert "approval_needed" in events and events.count("deployed") == 2
    assert len(events) == len({(m["event"], m["message"]) for m in webhook})  # nothing sent twice
    assert not any("Traceback" in json.dumps(m) for m in webhook)  # no raw log line leaves
    runs = release.state_rows("SELECT outcome, exit_code FROM runs WHERE command = 'run'")
    assert runs and all(r["exit_code"] == 0 for r in runs)


def test_dry_run_decides_everything_and_changes_nothing(release: Release) -> None:
    issue = detect_bug(release)
    assert release.project.cli("diagnose").exit_code == 0
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard", evidence="regression_test")
    before = _snapshot(release)
    result = release.project.cli("--json", "run", "--level", "3", "--dry-run")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["dry_run"] is True
    deploy = [a for a in data["actions"] if a["step"] == "deploy" and a["issue"] == issue]
    assert deploy and deploy[0]["action"] == "would deploy to staging"
    assert deploy[0]["decision"]["rule"] and {d["rule"] for d in deploy[0]["decision"]["decisions"]} >= {
        "policy.autonomy_level", "fix.evidence", "policy.max_deploys_per_day", "policy.business_hours"}
    assert _snapshot(release) == before


def test_below_the_confidence_floor_escalates_and_builds_no_fix(release: Release) -> None:
    issue = detect_bug(release)
    assert release.project.cli("diagnose").exit_code == 0
    con = sqlite3.connect(release.project.state)
    con.execute("UPDATE diagnoses SET confidence = 0.35 WHERE issue_id = ?", [issue])
    con.commit()
    con.close()
    by_hand = release.project.cli("fix", str(issue))
    assert by_hand.exit_code == 3 and "policy.min_confidence_approval" in by_hand.stderr
    result = release.project.cli("--json", "run", "--level", "3")
    assert result.exit_code == 0
    fix = [a for a in result.json()["actions"] if a["step"] == "fix"][0]
    assert fix["action"] == "not fixed" and fix["decision"]["rule"] == "policy.min_confidence_approval"
    assert release.state_rows("SELECT status FROM issues WHERE id = ?", [issue])[0]["status"] == "needs_human"
    assert release.state_rows("SELECT COUNT(*) AS n FROM fixes")[0]["n"] == 0


def test_a_fresh_state_still_counts_deploys_from_git(release: Release) -> None:
    from agent_cli import limits, policy
    from agent_cli.config import load_settings
    from agent_cli.state import State

    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard", evidence="regression_test")
    assert release.project.cli("deploy", str(issue)).exit_code == 0
    settings = load_settings(release.project.config)
    with State.open(release.project.state) as state:
        assert limits.deploys_last_day(state, settings)[0] == 1
    # A CI cache miss: the state is gone, the remote still remembers.
    for p in release.project.state.parent.glob("state.db*"):
        p.unlink()
    with State.open(release.project.state) as fresh:
        used, counts = limits.deploys_last_day(fresh, settings)
    assert counts == {"state": 0, "git": 1} and used == 1
    assert policy.rate("policy.max_deploys_per_day", used, 1, "deploys").verdict == "wait"


@pytest.mark.parametrize("release", [{"staging": {"status_command": "sleep 60", "deploy_timeout_s": 120}}], indirect=True)
def test_a_deploy_killed_midway_is_repaired_by_the_next_run(release: Release) -> None:
    issue = detect_bug(release)
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard", evidence="regression_test")
    before = release.branch("staging")
    proc = subprocess.Popen([str(AGENT_BIN), "-c", str(release.project.config), "deploy", str(issue)], cwd=release.root,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        for _ in range(300):  # until the push has landed and it waits on the status command
            rows = release.state_rows("SELECT sha FROM deployments")
            if rows and rows[0]["sha"] and release.branch("staging") != before:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the deploy never pushed")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert release.deployments()[0]["status"] == "deploying"
    result = release.project.cli("--json", "run", "--level", "1")
    assert result.exit_code == 0, result.stderr
    dep = release.deployments()[0]
    assert dep["status"] == "failed" and "interrupted" in dep["reason"]
    after = release.branch("staging")
    assert git(release.origin, "rev-parse", f"{after}^{{tree}}") == git(release.origin, "rev-parse", f"{before}^{{tree}}")
    assert release.audit("repaired") and release.audit("takeover")
    killed = release.state_rows("SELECT outcome FROM runs WHERE command = 'deploy'")
    assert killed[0]["outcome"] == "killed"
    assert release.state_rows("SELECT status FROM issues WHERE id = ?", [issue])[0]["status"] == "fix_ready"


def test_approvals_expire_and_decisions_are_checked(release: Release) -> None:
    issue = detect_bug(release)
    assert release.project.cli("diagnose").exit_code == 0
    ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard")  # evidence none: a person decides
    assert release.project.cli("run", "--level", "3").exit_code == 0
    rows = release.project.cli("--json", "approvals").json()["approvals"]
    assert [r["gate"] for r in rows] == ["deploy:staging"]
    assert "fix.evidence" in rows[0]["details"]["rules"] and rows[0]["details"]["sha"]
    assert release.project.cli("run", "--level", "3").exit_code == 0
    assert len(release.project.cli("--json", "approvals").json()["approvals"]) == 1  # asked once, not every run
    con = sqlite3.connect(release.project.state)
    con.execute("UPDATE approvals SET expires_at = '2000-01-01T00:00:00+00:00'")
    con.commit()
    con.close()
    refused = release.project.cli("approve", str(rows[0]["id"]))
    assert refused.exit_code == 3 and "approval.expired" in refused.stderr
    assert release.state_rows("SELECT status FROM approvals")[0]["status"] == "expired"
    assert release.audit("expired")
    no_window = release.project.cli("cancel", str(issue))
    assert no_window.exit_code == 2 and "cancel window" in no_window.stderr
    assert release.branch("staging") == git(release.origin, "rev-parse", "main")  # nothing shipped without the person
