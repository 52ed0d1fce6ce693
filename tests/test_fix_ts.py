"""`agent fix` on a TypeScript service: prepared node_modules with the state outside the repo, tsc errors in human output.

The dependencies come from `[validate] setup`; the tests never reach the
network, so the setup command copies the fixture's own installed node_modules
(`npm ci --prefix tests/fixtures/ts_app` in `.ci/run`) where a real project
would run `npm ci`. What is exercised is ours: setup on the pristine tree,
its cache keyed on the lockfiles, the copy into the next attempt.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Project, git, push_to_bare_origin
from tests.fake_anthropic import FakeAnthropic, tool_reply

FIXTURE = Path(__file__).parent / "fixtures" / "ts_app"
TSC = FIXTURE / "node_modules" / ".bin" / "tsc"
pytestmark = pytest.mark.skipif(not (shutil.which("node") and TSC.exists()),
                                reason="needs node and the fixture's typescript (npm ci --prefix tests/fixtures/ts_app)")
STACK = ("TypeError: Cannot read properties of undefined (reading 'name')\\n    at getTeam (/srv/app/src/teams.ts:14:25)"
         "\\n    at handler (/srv/app/src/index.ts:8:16)")
LOG = '{"level":50,"time":1732000000000,"msg":"request failed","err":{"type":"TypeError","message":"Cannot read properties of undefined (reading \'name\')","stack":"' + STACK + '"}}\n'
SEARCH = "  const team = findTeam(id) as Team;\n  return { name: team.name.toUpperCase() };"
GOOD = "  const team = findTeam(id);\n  if (team === undefined) {\n    return { name: \"unknown\" };\n  }\n  return { name: team.name.toUpperCase() };"
BAD_TYPES = "  const team = findTeam(id);\n  const n: number = team?.name;\n  return { name: String(n) };"


@pytest.fixture
def ts_project(tmp_path: Path) -> Project:
    root = tmp_path / "svc"
    root.mkdir()
    for name in ("src", "package.json", "package-lock.json", "tsconfig.json", ".gitignore"):
        source = FIXTURE / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "teams service")
    push_to_bare_origin(root, tmp_path / "origin.git")
    (root / "logs").mkdir()
    (root / "logs" / "app.log").write_text(LOG)
    state = tmp_path / "elsewhere" / "state.db"  # the state (and the work trees) outside the checkout
    project = Project(root)
    project.config.write_text(
        f'[agent]\nstate = "{state}"\n[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
        f'[validate]\nsetup = ["cp -a {FIXTURE}/node_modules node_modules"]\ncommands = ["node_modules/.bin/tsc --noEmit -p ."]\ntimeout_s = 120\n'
    )
    return project


def test_tsc_errors_are_shown_and_setup_is_reused_with_the_state_outside_the_repo(ts_project: Project) -> None:
    project = ts_project
    key = {"ANTHROPIC_API_KEY": "test-key"}
    with FakeAnthropic() as api:
        project.config.write_text(project.config.read_text() + f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n')
        scanned = project.cli("--json", "scan").json()
        issue = scanned["new_issues"][0]["id"]
        api.script.append(tool_reply("report_diagnosis", {"root_cause": "unknown team", "affected_files": ["src/teams.ts"],
                                                          "fix_strategy": "guard", "confidence": 0.8, "requires_human_approval": False,
                                                          "estimated_fix_minutes": 5}))
        assert project.cli("diagnose", str(issue), env=key).exit_code == 0
        api.script.extend([
            tool_reply("propose_fix", {"summary": "guard", "confidence": 0.9, "edits": [{"path": "src/teams.ts", "search": SEARCH, "replace": BAD_TYPES}]}),
            tool_reply("propose_fix", {"summary": "guard", "confidence": 0.9, "edits": [{"path": "src/teams.ts", "search": SEARCH, "replace": GOOD}]}),
        ])
        result = project.cli("fix", str(issue), env=key)
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    # The first attempt's type error, in tsc's own words, in the human output (not only in --json).
    assert "$ node_modules/.bin/tsc --noEmit -p .: exit 2" in out
    assert "error TS2322" in out and "src/teams.ts" in out
    assert "fix ready: branch agent/fix-1-2" in out
    shown = project.cli("--json", "show", str(issue)).json()
    first, second = shown["fixes"][0], shown["fixes"][1]
    assert any("tsc: src/teams.ts: TS2322" in r for r in first["reason"].split("; ")) or "TS2322" in first["reason"]
    setups = [f["evidence_detail"]["setup"]["how"] for f in shown["fixes"] if isinstance(f["evidence_detail"], dict)]
    assert setups == ["ran", "reused"]  # the second attempt got a copy, not a reinstall
    assert second["status"] == "committed"
    assert not (project.root / ".agent").exists()  # nothing in the checkout


def test_offline_on_a_first_commit_neither_reverts_everything_nor_throws(ts_project: Project) -> None:
    project = ts_project
    issue = project.cli("--json", "scan").json()["new_issues"][0]["id"]
    assert project.cli("diagnose", str(issue)).exit_code == 0
    result = project.cli("--json", "fix", str(issue), "--dry-run")
    assert result.exit_code == 1
    reasons = {a["strategy"]: a["reasons"][0] for a in result.json()["attempts"]}
    assert "first commit" in reasons["revert"]
    assert "no not-found return to reuse" in reasons["template"] and "throws is not a fix" in reasons["template"]
