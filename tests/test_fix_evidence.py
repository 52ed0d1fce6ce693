"""Fixes that provably fix: evidence, truthful outcomes, re-fixes that never downgrade, free dry runs, careful reverts."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from agent_cli.fix.message import subject
from tests.conftest import Project, commit, git
from tests.fake_anthropic import FakeAnthropic, error_reply, tool_reply
from tests.sample_app import PYTEST, TESTS, VIEWS_BAD
from tests.test_fix import GUARD_REPLACE, GUARD_SEARCH, diagnosed, llm_diagnosed

KEY = {"ANTHROPIC_API_KEY": "test-key"}
ONLY_FOUND = TESTS.split("\n\ndef test_missing")[0] + "\n"  # the suite without the test that shows the bug
REGRESSION = '''from app.views import get_item


def test_missing_item_is_a_404():
    assert get_item(99) == ({"error": "not found"}, 404)
'''


def commit_app(root: Path, message: str) -> str:
    """Commit the app's code only (the fixture's logs stay untracked)."""
    git(root, "add", "app")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def fix_json(project: Project, *args: str, env: dict | None = None) -> tuple[int, dict]:
    result = project.cli("--json", "fix", *args, env=env)
    return result.exit_code, result.json()


def fix_row(project: Project, sha: str) -> tuple:
    return sqlite3.connect(project.state).execute("SELECT evidence, evidence_detail, confidence FROM fixes WHERE sha = ?", [sha]).fetchone()


def test_revert_that_makes_the_related_failing_test_pass_records_related_failure_fixed(project: Project, app: dict) -> None:
    issue = diagnosed(project)
    code, data = fix_json(project, str(issue))
    assert code == 0, data
    evidence = data["attempts"][0]["evidence"]
    assert evidence["kind"] == "related_failure_fixed"
    assert evidence["tests"] == ["tests/test_views.py::test_missing"] or any("test_missing" in t for t in evidence["tests"])
    kind, detail, _ = fix_row(project, data["sha"])
    assert kind == "related_failure_fixed" and "test_missing" in detail
    assert "related_failure_fixed" in project.cli("show", str(issue)).stdout  # people see it too


def test_offline_template_that_would_raise_is_refused(project: Project, app: dict) -> None:
    issue = diagnosed(project, "[fix]\nrevert_max_age_h = 0\n")  # no revert: the template is all there is
    code, data = fix_json(project, str(issue))
    assert code == 1
    (attempt,) = data["attempts"]
    assert attempt["strategy"] == "template" and attempt["outcome"] == "skipped"
    assert "no not-found return to reuse" in attempt["reasons"][0] and "raises is not a fix" in attempt["reasons"][0]
    assert git(project.root, "branch", "--list", "agent/*") == ""


def test_validation_imports_the_attempts_code_not_an_editable_install_of_the_checkout(project: Project, app: dict, tmp_path: Path) -> None:
    root = project.root
    venv = tmp_path / "editable-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "__editable__app.pth").write_text(f"{root}\n")  # what `pip install -e .` of the checkout leaves
    (root / "tests" / "where.py").write_text("import app.views\nprint('IMPORTED', app.views.__file__)\n")
    commit(root, "where")
    git(root, "push", "-q", "origin", "main")
    # Portable mode, so the checkout the .pth names is visible to validation (bwrap would hide it anyway).
    issue = diagnosed(project, 'sandbox = "none"\n', commands=[f"{venv}/bin/python tests/where.py", PYTEST])
    code, data = fix_json(project, str(issue))
    assert code == 0, data
    printed = data["attempts"][0]["validation"][0]["output_tail"]
    imported = printed.split("IMPORTED ", 1)[1].split()[0]
    assert not imported.startswith(str(root) + "/"), printed
    assert "/fix-" in imported  # the attempt's tree


def _without_the_bug_test(project: Project) -> None:
    (project.root / "tests" / "test_views.py").write_text(ONLY_FOUND)
    commit(project.root, "drop the failing test")
    git(project.root, "push", "-q", "origin", "main")


def test_llm_fix_without_a_regression_test_gets_evidence_none_and_capped_confidence(project: Project, app: dict) -> None:
    _without_the_bug_test(project)
    with FakeAnthropic() as api:
        api.script.append(tool_reply("report_diagnosis", {"root_cause": "item can be None", "affected_files": ["app/views.py"],
                                                          "fix_strategy": "guard", "confidence": 0.99, "requires_human_approval": False,
                                                          "estimated_fix_minutes": 5}))
        issue = diagnosed(project, f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n', env=KEY)
        api.script.append(tool_reply("propose_fix", {"summary": "guard", "confidence": 0.99,
                                                     "edits": [{"path": "app/views.py", "search": GUARD_SEARCH, "replace": GUARD_REPLACE}]}))
        code, data = fix_json(project, str(issue), env=KEY)
        prompt = api.requests[-1]["messages"][0]["content"]
    assert code == 0, data
    assert "include a regression test" in prompt  # the repo has tests, so one is asked for
    attempt = data["attempts"][0]
    diagnosed_confidence = project.cli("--json", "show", str(issue)).json()["diagnoses"][-1]["confidence"]
    assert diagnosed_confidence >= 0.9  # so the cap is what holds it below min_confidence_auto
    assert attempt["evidence"]["kind"] == "none"
    assert attempt["confidence"] == 0.89 and "capped at 0.89" in attempt["confidence_note"]
    kind, _, confidence = fix_row(project, data["sha"])
    assert kind == "none" and confidence == 0.89


def fix_with_a_test(project: Project, test_text: str) -> dict:
    """The guard plus a new test file, proposed through the local Messages API on a suite without the bug's test."""
    _without_the_bug_test(project)
    with FakeAnthropic() as api:
        issue = llm_diagnosed(project, api)
        api.script.append(tool_reply("propose_fix", {"summary": "guard", "confidence": 0.95, "edits": [
            {"path": "app/views.py", "search": GUARD_SEARCH, "replace": GUARD_REPLACE},
            {"path": "tests/test_regression.py", "search": "", "replace": test_text}]}))
        code, data = fix_json(project, str(issue), env=KEY)
    assert code == 0, data
    return data


def test_llm_fix_with_a_test_that_fails_on_base_and_passes_after_is_a_regression_test(project: Project, app: dict) -> None:
    data = fix_with_a_test(project, REGRESSION)
    evidence = data["attempts"][0]["evidence"]
    assert evidence["kind"] == "regression_test"
    assert any("test_missing_item_is_a_404" in t for t in evidence["tests"])
    assert data["attempts"][0]["confidence_note"] == ""  # not capped
    assert sorted(data["attempts"][0]["files"]) == ["app/views.py", "tests/test_regression.py"]


def test_a_test_that_passes_without_the_fix_is_no_evidence(project: Project, app: dict) -> None:
    data = fix_with_a_test(project, "def test_nothing():\n    assert True\n")
    evidence = data["attempts"][0]["evidence"]
    assert evidence["kind"] == "none" and "do not show the bug" in evidence["detail"]


def test_failed_fix_is_recorded_as_failed_in_runs_and_status(project: Project, app: dict) -> None:
    issue = diagnosed(project, "[fix]\nrevert_max_age_h = 0\n")
    assert project.cli("fix", str(issue)).exit_code == 1
    outcome, exit_code = sqlite3.connect(project.state).execute(
        "SELECT outcome, exit_code FROM runs WHERE command = 'fix' ORDER BY started_at DESC LIMIT 1").fetchone()
    assert exit_code == 1 and outcome != "ok" and "no fix" in outcome
    status = project.cli("--json", "status").json()
    assert status["last_run"]["exit_code"] == 1 and status["last_run"]["outcome"] != "ok"
    assert "(ok)" not in project.cli("status").stdout


def test_refix_refuses_without_again_and_an_llm_outage_during_again_keeps_the_fix(project: Project, app: dict) -> None:
    issue = diagnosed(project)
    code, first = fix_json(project, str(issue))
    assert code == 0 and first["status"] == "fix_ready"
    refused = project.cli("fix", str(issue))
    assert refused.exit_code == 3 and first["branch"] in refused.stderr and "--again" in refused.stderr and "rule: fix.exists" in refused.stderr
    with FakeAnthropic() as api:
        api.script.extend([error_reply(500, "api_error", "down")] * 10)
        project.config.write_text(project.config.read_text() + f'[llm]\nbase_url = "{api.base_url}"\nmax_retries = 0\n[fix]\nrevert_max_age_h = 0\n')
        code, again = fix_json(project, str(issue), "--again", env=KEY)
    assert code == 1, again
    assert again["kept"] == first["branch"]
    shown = project.cli("--json", "show", str(issue)).json()
    assert shown["status"] == "fix_ready"
    assert git(project.root, "rev-parse", first["branch"]) == first["sha"]


def test_dry_runs_leave_no_attempt_rows_and_use_no_attempt_number(project: Project, app: dict) -> None:
    issue = diagnosed(project)
    assert project.cli("fix", str(issue), "--dry-run").exit_code == 0
    assert sqlite3.connect(project.state).execute("SELECT COUNT(*) FROM fixes").fetchone()[0] == 0
    code, data = fix_json(project, str(issue))
    assert code == 0 and data["branch"] == f"agent/fix-{issue}-1"


def test_revert_tries_the_culprits_hunks_first_and_keeps_the_rest_of_the_commit(project: Project, app: dict) -> None:
    root = project.root
    # The bad commit also added a feature elsewhere: reverting only the culprit's file keeps it.
    git(root, "reset", "-q", "--hard", "HEAD~1")
    (root / "app" / "views.py").write_text(VIEWS_BAD)
    (root / "app" / "feature.py").write_text("def feature():\n    return 'new'\n")
    bad = commit_app(root, "simplify get_item and add a feature")
    git(root, "push", "-q", "-f", "origin", "main")
    issue = diagnosed(project)
    code, data = fix_json(project, str(issue))
    assert code == 0, data
    assert data["attempts"][0]["files"] == ["app/views.py"]
    assert git(root, "show", f"{data['branch']}:app/feature.py").startswith("def feature")
    assert f"revert {bad[:12]}'s changes to app/views.py" in git(root, "log", "-1", "--format=%s", data["branch"])


def test_whole_revert_lists_what_else_it_undid(project: Project, app: dict) -> None:
    root = project.root
    # The bad commit renamed find() in repo.py too: the culprit's file alone does not revert cleanly into working code.
    git(root, "reset", "-q", "--hard", "HEAD~1")
    (root / "app" / "views.py").write_text(VIEWS_BAD.replace("find", "lookup"))
    (root / "app" / "repo.py").write_text((root / "app" / "repo.py").read_text().replace("def find(", "def lookup("))
    commit_app(root, "simplify get_item, rename find to lookup")
    git(root, "push", "-q", "-f", "origin", "main")
    issue = diagnosed(project)
    code, data = fix_json(project, str(issue))
    assert code == 0, data
    outcomes = [(a["outcome"], a["files"]) for a in data["attempts"]]
    assert outcomes == [("failed", ["app/views.py"]), ("committed", ["app/repo.py", "app/views.py"])], outcomes
    assert "also undoes its changes to app/repo.py" in git(root, "log", "-1", "--format=%B", data["branch"])


def test_subjects_are_cut_at_a_word_boundary_never_inside_a_parenthesis() -> None:
    assert subject("short") == "short"
    long = "revert 0123456789ab (simplify the item view and drop the guard that returned 404)"
    cut = subject(long)
    assert len(cut) <= 68 and "(" not in cut and cut == "revert 0123456789ab"
    words = "guard the item lookup against None so that a missing item answers 404 instead of crashing"
    assert subject(words) == "guard the item lookup against None so that a missing item answers"
    assert json.dumps(subject("x" * 100)) == json.dumps("x" * 68)


def test_a_failed_culprit_revert_of_a_one_file_commit_moves_on_instead_of_repeating_itself(project: Project, app: dict) -> None:
    issue = diagnosed(project, commands=["grep -q NEVER_THERE app/views.py"])  # no change can pass
    code, data = fix_json(project, str(issue))
    assert code == 1
    assert [a["strategy"] for a in data["attempts"]] == ["revert", "template"]
    assert "stuck" not in data["stopped"]
