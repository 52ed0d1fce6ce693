"""The fix gate, table first: every rule with the spellings that used to slip past it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_cli.config import PolicySection, load_settings
from agent_cli.fix import gate
from tests.conftest import Project

POLICY = PolicySection()

REFUSED = [
    # normalised before matching: the same file however it is spelt
    (".env/", "protected_paths '.env*'"),
    ("./.env", "protected_paths '.env*'"),
    ("vercel.json/.", "protected_paths 'vercel.json'"),
    ("app//migrations//0001.py", "protected_paths '**/migrations/**'"),
    (".ENV.production", "protected_paths '.env*'"),
    ("App/Billing/charge.py", "protected_paths '**/billing/**'"),
    ("Vercel.JSON", "protected_paths 'vercel.json'"),
    # CI definitions and git metadata, whatever protected_paths says
    (".github/workflows/ci.yml", "built-in protected '.github/**'"),
    (".gitlab-ci.yml", "built-in protected '.gitlab-ci.yml'"),
    (".circleci/config.yml", "built-in protected '.circleci/**'"),
    (".gitattributes", "built-in protected '.gitattributes'"),
    (".gitmodules", "built-in protected '.gitmodules'"),
    (".husky/pre-commit", "built-in protected '.husky/**'"),
    (".GIT/hooks/post-checkout", "inside .git"),
    ("vendor/lib/.git/config", "inside .git"),
    # the agent's own config and state
    ("agent.toml", "built-in protected 'agent.toml'"),
    (".agent/state.db", "built-in protected '.agent/**'"),
    # control and shell characters, and option-like names
    ("app/$(touch x).py", "control or shell characters"),
    ("app/`id`.py", "control or shell characters"),
    ("app/a;b.py", "control or shell characters"),
    ("app/a|b.py", "control or shell characters"),
    ("app/a\nb.py", "control or shell characters"),
    ("app/a\x1b[31m.py", "control or shell characters"),
    ("app/\u202ecod.py", "control or shell characters"),
    ("-rf.py", "control or shell characters"),
    ("app/--help.py", "control or shell characters"),
    ("app/'q'.py", "control or shell characters"),
    # outside
    ("../outside.py", "no '..' in paths"),
    ("app/../../outside.py", "no '..' in paths"),
    ("/etc/passwd", "absolute path"),
    (".", "edits name a file"),
]
ALLOWED = ["app/views.py", "pages/[id].tsx", "app/(marketing)/page.tsx", "app/@modal/page.tsx", "src/my file.ts", "./app/views.py"]


@pytest.fixture
def settings(project: Project):
    return load_settings(project.config)


@pytest.mark.parametrize(("path", "rule"), REFUSED)
def test_refused_paths_name_their_rule(project: Project, settings, path: str, rule: str) -> None:
    rejection, _ = gate.check_path(project.root, path, POLICY, gate.builtin_protected(settings))
    assert rejection is not None and rule in rejection, rejection


@pytest.mark.parametrize("path", ALLOWED)
def test_ordinary_paths_pass(project: Project, settings, path: str) -> None:
    assert gate.check_path(project.root, path, POLICY, gate.builtin_protected(settings)) == (None, None)


def test_approval_paths_match_case_insensitively(project: Project) -> None:
    _, approval = gate.check_path(project.root, "App/Auth/login.py", POLICY)
    assert approval and "policy.approval_paths '**/auth/**'" in approval


def test_state_and_config_outside_the_repo_add_no_rule(tmp_path: Path, project: Project) -> None:
    config = tmp_path / "elsewhere" / "agent.toml"
    config.parent.mkdir()
    config.write_text(f'[agent]\nrepo = "{project.root}"\nstate = "{tmp_path}/state/state.db"\n')
    assert gate.builtin_protected(load_settings(config)) == list(gate.BUILTIN_PROTECTED)


SECRETS = [
    ({"config/app.ini": "DB_PASSWORD=hunter2hunter2"}, "env-style secret in an .ini"),
    ({"deploy/prod.env": "STRIPE_SECRET_KEY=abc"}, "env-style secret in a .env file"),
    ({"app/keys.py": 'TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"'}, "concatenated token"),
    ({"app/settings.py": 'SECRET_KEY = "x"'}, "short literal assigned to a secret name"),
    ({"app/db.py": 'connect(host, password="pw")'}, "password keyword argument"),
]


@pytest.mark.parametrize(("added", "why"), SECRETS)
def test_added_secrets_are_refused(project: Project, added: dict[str, str], why: str) -> None:
    result = gate.check(project.root, added, 1, 10, POLICY)
    assert any("rule: no secrets in fixes" in r for r in result.rejected), why


def test_reading_a_secret_from_the_environment_passes(project: Project) -> None:
    added = {"app/db.py": 'password = os.environ["DB_PASSWORD"]\ntoken = request.headers["X-Token"]\n'}
    assert gate.check(project.root, added, 2, 60, POLICY).ok


def test_diff_limits_count_bytes_as_well_as_lines(project: Project) -> None:
    few_long_lines = gate.check(project.root, {"app/a.py": "x"}, 3, gate.MAX_DIFF_BYTES + 1, POLICY)
    assert any(f"at most {gate.MAX_DIFF_BYTES} bytes" in r for r in few_long_lines.rejected)
    many_lines = gate.check(project.root, {"app/a.py": "x"}, gate.MAX_DIFF_LINES + 1, 10, POLICY)
    assert any(f"at most {gate.MAX_DIFF_LINES} lines" in r for r in many_lines.rejected)
    assert gate.check(project.root, {"app/a.py": "x"}, gate.MAX_DIFF_LINES, gate.MAX_DIFF_BYTES, POLICY).ok


def test_symlinked_component_is_refused(project: Project, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (project.root / "linked").symlink_to(tmp_path / "real")
    rejection, _ = gate.check_path(project.root, "linked/x.py", POLICY)
    assert rejection and "symlink" in rejection
