"""`agent fix` on real repositories with a bare remote: worktrees, strategies, the gate, validation."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from agent_cli.config import load_settings
from agent_cli.sandbox import probe
from tests.conftest import AGENT_BIN, Project, commit, git
from tests.fake_anthropic import FakeAnthropic, tool_reply
from tests.sample_app import OLD_COMMIT_DATE, PYTEST, TRACE, VIEWS_BAD, VIEWS_GOOD

OLD = OLD_COMMIT_DATE


def configure(project: Project, extra: str = "", commands: list[str] | None = None) -> None:
    cmds = ", ".join(f'"{c}"' for c in (commands or [PYTEST]))
    project.config.write_text(
        '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
        f"[validate]\ncommands = [{cmds}]\ntimeout_s = 60\n" + extra
    )


def diagnosed(project: Project, extra: str = "", commands: list[str] | None = None, env: dict | None = None) -> int:
    configure(project, extra, commands)
    issue = project.cli("--json", "scan").json()["new_issues"][0]["id"]
    result = project.cli("--json", "diagnose", str(issue), env=env)
    assert result.exit_code == 0, result.stderr
    return issue


def llm_diagnosed(project: Project, api: FakeAnthropic) -> int:
    """Diagnosed through the fake Messages API, with reverts off so the LLM strategy is used."""
    api.script.append(tool_reply("report_diagnosis", {"root_cause": "item can be None", "affected_files": ["app/views.py"],
                                                      "fix_strategy": "guard", "confidence": 0.85, "requires_human_approval": False,
                                                      "estimated_fix_minutes": 5}))
    extra = f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n'
    return diagnosed(project, extra, env={"ANTHROPIC_API_KEY": "test-key"})


def checkout_snapshot(root: Path) -> dict:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in (".git", ".agent") or not path.is_file():
            continue
        files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "files": files,
        "status": git(root, "status", "--porcelain", "--untracked-files=all"),
        "head": git(root, "rev-parse", "HEAD"),
        "index": git(root, "diff", "--cached"),
        "stash": git(root, "stash", "list"),
        "branch": git(root, "branch", "--show-current"),
    }


def llm_fix(path: str, search: str, replace: str, summary: str = "restore the None guard") -> tuple[int, dict]:
    # As today's models answer: a thinking block, then the call.
    return tool_reply("propose_fix", {"summary": summary, "edits": [{"path": path, "search": search, "replace": replace}], "confidence": 0.9},
                      thinking="The guard above the lookup was removed; put it back.")


GUARD_SEARCH = '    item = find(item_id)\n    return {"name": item.name}, 200'
GUARD_REPLACE = '    item = find(item_id)\n    if item is None:\n        return {"error": "not found"}, 404\n    return {"name": item.name}, 200'
# Guards, but breaks test_found, which passes on the base: a new failure.
WRONG_REPLACE = '    item = find(item_id)\n    if item is None:\n        return {"error": "not found"}, 404\n    return {"name": item.name.upper()}, 200'


def test_revert_of_the_recent_bad_commit_goes_red_to_green_and_leaves_the_checkout_alone(project: Project, app: dict) -> None:
    issue = diagnosed(project)
    root = project.root
    (root / "README.md").write_text("uncommitted work in progress\n")  # the user's uncommitted change
    git(root, "add", "README.md")
    before = checkout_snapshot(root)
    result = project.cli("--json", "fix", str(issue))
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["status"] == "fix_ready" and data["branch"] == f"agent/fix-{issue}-1"
    (attempt,) = data["attempts"]
    assert attempt["strategy"] == "revert" and attempt["files"] == ["app/views.py"]
    assert attempt["validation"][0]["exit_code"] == 0
    baseline = sqlite3.connect(project.state).execute("SELECT results FROM validation_baselines").fetchone()[0]
    assert '"exit_code": 1' in baseline and "test_missing" in baseline  # red before
    assert checkout_snapshot(root) == before
    # The branch holds the revert, with the documented message.
    assert git(root, "show", f"{data['branch']}:app/views.py") == VIEWS_GOOD.rstrip("\n")
    message = git(root, "log", "-1", "--format=%B", data["branch"])
    assert message.startswith(f"fix: revert {app['bad'][:12]}")
    for header in ("Issue: #", "Root Cause: ", "Fix: ", "Impact: app/views.py", "Testing:", f"Agent-Issue: {issue}", "Agent-Severity: P", "Agent-Confidence: 0."):
        assert header in message, header
    assert git(root, "log", "-1", "--format=%cn <%ce>|%an", data["branch"]) == "agent-cli <agent-cli@localhost>|agent-cli"
    assert git(root, "rev-parse", f"{data['branch']}^") == app["bad"]  # built on origin/main
    assert not list(load_settings(project.config).workdir_path.iterdir())  # the attempt's tree is gone
    shown = project.cli("--json", "show", str(issue)).json()
    assert shown["status"] == "fix_ready" and shown["fixes"][-1]["sha"] == data["sha"]
    assert data["branch"] in project.cli("show", str(issue)).stdout


def test_dry_run_prints_the_diff_and_commits_nothing(project: Project, app: dict) -> None:
    issue = diagnosed(project)
    result = project.cli("fix", str(issue), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "+    if item is None:" in result.stdout and "passed" in result.stdout and "nothing committed" in result.stdout
    assert git(project.root, "branch", "--list", "agent/*") == ""
    assert project.cli("--json", "show", str(issue)).json()["status"] == "diagnosed"


def test_pre_existing_failing_test_does_not_block(project: Project, app: dict) -> None:
    root = project.root
    (root / "tests" / "test_legacy.py").write_text("def test_legacy_broken():\n    assert 1 == 2\n")
    commit(root, "legacy test")
    git(root, "push", "-q", "origin", "main")
    issue = diagnosed(project)
    data = project.cli("--json", "fix", str(issue)).json()
    assert data["status"] == "fix_ready", data
    assert "test_legacy_broken" in data["attempts"][0]["validation"][0]["output_tail"]


def test_llm_fix_through_the_local_messages_api(project: Project, app: dict) -> None:
    with FakeAnthropic() as api:
        issue = llm_diagnosed(project, api)
        api.script.append(llm_fix("app/views.py", GUARD_SEARCH, GUARD_REPLACE))
        result = project.cli("--json", "fix", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["attempts"][0]["strategy"] == "llm" and data["status"] == "fix_ready"
    request = api.requests[-1]
    assert request["tool_choice"] == {"type": "auto"} and request["thinking"] == {"type": "between_tools"} and api.rejected == []
    assert "file app/views.py" in request["messages"][0]["content"]
    assert git(project.root, "show", f"{data['branch']}:app/views.py") == VIEWS_GOOD.rstrip("\n")


def test_failing_first_answer_sends_test_output_to_the_second(project: Project, app: dict) -> None:
    with FakeAnthropic() as api:
        issue = llm_diagnosed(project, api)
        api.script.extend([llm_fix("app/views.py", GUARD_SEARCH, WRONG_REPLACE), llm_fix("app/views.py", GUARD_SEARCH, GUARD_REPLACE)])
        result = project.cli("--json", "fix", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert [a["outcome"] for a in data["attempts"]] == ["failed", "committed"]
    assert "test_found" in data["attempts"][0]["reasons"][0]
    second_prompt = api.requests[-1]["messages"][0]["content"]
    assert "why the previous attempt failed" in second_prompt and "test_found" in second_prompt and "APPLE" in second_prompt
    branches = git(project.root, "branch", "--list", "agent/*").split()
    assert branches == [data["branch"]]  # the failed attempt's branch is gone


def test_protected_outside_and_symlinked_edits_are_rejected_and_nothing_is_written(project: Project, app: dict, tmp_path: Path) -> None:
    outside_target = tmp_path / "outside_target.py"
    outside_target.write_text("SAFE = True\n")
    os.symlink(outside_target, project.root / "app" / "link.py")
    commit(project.root, "add a symlink")
    git(project.root, "push", "-q", "origin", "main")
    env_before = (project.root / ".env").read_bytes()
    with FakeAnthropic() as api:
        issue = llm_diagnosed(project, api)
        api.script.extend([
            llm_fix(".env", "DATABASE_URL=postgres://localhost/app", "DATABASE_URL=postgres://evil/app"),
            llm_fix("../outside.py", "", "print('escaped')\n"),
            llm_fix("app/link.py", "SAFE = True", "SAFE = False"),
        ])
        result = project.cli("--json", "fix", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 3, result.stderr
    reasons = [a["reasons"][0] for a in result.json()["attempts"]]
    assert "policy.protected_paths '.env*'" in reasons[0]
    assert "outside the repository" in reasons[1]
    assert "symlink" in reasons[2]
    assert (project.root / ".env").read_bytes() == env_before
    assert not (project.root.parent / "outside.py").exists()
    assert outside_target.read_text() == "SAFE = True\n"
    assert git(project.root, "branch", "--list", "agent/*") == ""
    audit = project.cli("--json", "show", str(issue)).json()["audit"]
    assert sum(1 for a in audit if a["decision"] == "rejected") == 3
    assert project.cli("--json", "show", str(issue)).json()["status"] == "needs_human"


def test_ambiguous_search_is_rejected_with_text_the_model_can_use(project: Project, app: dict) -> None:
    with FakeAnthropic() as api:
        issue = llm_diagnosed(project, api)
        api.script.extend([llm_fix("app/views.py", "item", "thing"), llm_fix("app/views.py", GUARD_SEARCH, GUARD_REPLACE)])
        data = project.cli("--json", "fix", str(issue), env={"ANTHROPIC_API_KEY": "test-key"}).json()
    assert data["attempts"][0]["outcome"] == "failed"
    assert "matches 5 places" in data["attempts"][0]["reasons"][0]
    assert "matches 5 places" in api.requests[-1]["messages"][0]["content"]
    assert data["status"] == "fix_ready"


def test_hanging_validation_is_killed_at_the_timeout(project: Project, app: dict) -> None:
    marker = f"agent-hang-{os.getpid()}"
    issue = diagnosed(project, commands=[f"sleep 30 # {marker}"])
    project.config.write_text(project.config.read_text().replace("timeout_s = 60", "timeout_s = 1"))
    started = time.monotonic()
    result = project.cli("--json", "fix", str(issue))
    assert result.exit_code == 1
    attempt = result.json()["attempts"][0]
    assert attempt["validation"][0]["timed_out"] is True and "timed out" in attempt["reasons"][0]
    assert time.monotonic() - started < 25
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in ps


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_kill_9_during_validation_is_cleaned_up_by_the_next_run(project: Project, app: dict, sandbox: str) -> None:
    if sandbox == "bwrap" and not probe()[0]:
        pytest.skip(f"bubblewrap cannot run here: {probe()[1]}")
    # Relative paths: the tree is the only place a sandboxed command can write to.
    command = f"touch started; case $HOLD in 1) sleep 120;; esac; {PYTEST}"
    issue = diagnosed(project, commands=[command])
    held = project.config.read_text().replace("[validate]\n", f'[validate]\nsandbox = "{sandbox}"\nenv = {{ HOLD = "1" }}\n')
    project.config.write_text(held)
    proc = subprocess.Popen([str(AGENT_BIN), "-c", str(project.config), "fix", str(issue)], cwd=project.root)
    conn = sqlite3.connect(project.state)
    deadline = time.monotonic() + 60
    row = None
    while time.monotonic() < deadline:
        row = conn.execute("SELECT branch, worktree, validation_pgid FROM fixes WHERE status = 'building'").fetchone()
        if row and row[2] and (Path(row[1]) / "started").exists():
            break
        time.sleep(0.05)
    assert row and (Path(row[1]) / "started").exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    branch, worktree, pgid = row
    assert Path(worktree).exists()
    if sandbox == "bwrap":
        # bwrap --die-with-parent: the sandboxed validation dies with the agent
        deadline = time.monotonic() + 10
        while _alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pgid)
    else:
        assert _alive(pgid)  # portable mode: still running until the next run stops it
    project.config.write_text(held.replace('env = { HOLD = "1" }\n', ""))
    result = project.cli("--json", "fix", str(issue))
    assert result.exit_code == 0, result.stderr
    assert not Path(worktree).exists()
    assert not _alive(pgid)
    assert git(project.root, "branch", "--list", "agent/*").split() == [result.json()["branch"]]
    status = conn.execute("SELECT status FROM fixes WHERE branch = ?", [branch]).fetchone()[0]
    assert status == "abandoned"
    assert "prunable" not in git(project.root, "worktree", "list", "--porcelain")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def test_fix_refuses_an_undiagnosed_issue_and_a_paused_agent(project: Project, app: dict) -> None:
    configure(project)
    issue = project.cli("--json", "scan").json()["new_issues"][0]["id"]
    result = project.cli("fix", str(issue))
    assert result.exit_code == 3 and "diagnosed" in result.stderr
    project.cli("diagnose", str(issue))
    project.cli("pause", "--reason", "freeze")
    paused = project.cli("fix", str(issue))
    assert paused.exit_code == 3 and "paused" in paused.stderr
    assert project.cli("fix", str(issue), "--dry-run").exit_code == 3  # a dry run runs model code too
    project.cli("resume")
    project.config.write_text(project.config.read_text().replace(f'commands = ["{PYTEST}"]', "commands = []"))
    unvalidated = project.cli("fix", str(issue))
    assert unvalidated.exit_code == 3 and "validate.commands" in unvalidated.stderr


def with_a_not_found_path(project: Project) -> Path:
    """get_item gains a not-found return (an old commit) that the None-guard template can reuse; the trace moves with it."""
    root = project.root
    (root / "app" / "views.py").write_text(VIEWS_BAD.replace(
        "def get_item(item_id):\n", 'def get_item(item_id):\n    if item_id < 0:\n        return {"error": "not found"}, 404\n'))
    commit(root, "validate ids", OLD)
    git(root, "push", "-q", "origin", "main")
    (root / "logs" / "app.log").write_text(TRACE.replace("line 6", "line 8"))
    return root


def test_offline_template_reuses_the_functions_not_found_path(project: Project, app: dict) -> None:
    root = with_a_not_found_path(project)
    issue = diagnosed(project, "[fix]\nrevert_max_age_h = 0\n")
    data = project.cli("--json", "fix", str(issue)).json()
    assert data["status"] == "fix_ready", data
    assert data["attempts"][0]["strategy"] == "template"
    fixed = git(root, "show", f"{data['branch']}:app/views.py")
    assert '    if item is None:\n        return {"error": "not found"}, 404\n    return {"name": item.name}, 200' in fixed


def test_an_unusable_model_falls_back_to_the_offline_template(project: Project, app: dict) -> None:
    """[llm] on_failure = "offline": the model gone mid-way, the fix comes from a template, never a half-written patch."""
    with_a_not_found_path(project)
    with FakeAnthropic(retired={"claude-sonnet-5-5"}) as api:
        issue = diagnosed(project, f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n')  # offline: no key yet
        result = project.cli("--json", "fix", str(issue), env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert [(a["strategy"], a["outcome"]) for a in data["attempts"]] == [("llm", "skipped"), ("template", "committed")]
    assert data["attempts"][0]["reasons"][0].startswith("llm unavailable: model 'claude-sonnet-5-5' not found (404)")
    assert len(api.requests) == 1 and data["status"] == "fix_ready"
    assert 'if item is None:' in git(project.root, "show", f"{data['branch']}:app/views.py")


def test_agent_run_diagnoses_and_fixes_through_a_model_that_refuses_forced_tools(project: Project, app: dict) -> None:
    """Issue 17's 'done when': a whole cycle against a server that answers forced tool use and thinking: disabled with 400."""
    with FakeAnthropic() as api:
        configure(project, f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n')
        api.script.extend([
            tool_reply("report_diagnosis", {"root_cause": "item can be None", "affected_files": ["app/views.py"], "fix_strategy": "guard",
                                            "confidence": 0.85, "requires_human_approval": False, "estimated_fix_minutes": 5},
                       thinking="The lookup returns None for unknown ids."),
            llm_fix("app/views.py", GUARD_SEARCH, GUARD_REPLACE),
        ])
        result = project.cli("--json", "run", "--level", "1", env={"ANTHROPIC_API_KEY": "test-key"})
    assert result.exit_code == 0, result.stderr
    actions = {(a["step"], a["action"]) for a in result.json()["actions"]}
    assert ("diagnose", "diagnosed") in actions and ("fix", "fixed") in actions
    assert api.rejected == [] and [r["tool_choice"] for r in api.requests] == [{"type": "auto"}] * 2
    shown = project.cli("--json", "show", "1").json()
    assert shown["diagnoses"][-1]["provider"] == "anthropic" and shown["fixes"][-1]["strategy"] == "llm"
