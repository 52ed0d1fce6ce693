"""A real release setting for tests: the demo shop as a git repo with a bare origin (staging, main), deployed by its
own deploy.sh into per-environment checkouts serving 127.0.0.1 on free ports, and traffic sent to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent_cli.demo.setup import Users as Traffic
from agent_cli.demo.setup import free_port, get
from tests.conftest import Project, commit, git

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-app"


@dataclass
class Release:
    project: Project
    origin: Path
    ports: dict[str, int]
    traffic: list["Traffic"] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.project.root

    def url(self, env: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[env]}{path}"

    def sh(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", *args], cwd=self.root, capture_output=True, text=True, timeout=60)

    def start(self, env: str, ref: str) -> None:
        """The environment running `ref` of origin, as an operator would have deployed it before the agent."""
        sha = git(self.origin, "rev-parse", ref)
        done = self.sh("deploy/deploy.sh", sha, ref, env)
        assert done.returncode == 0, done.stderr
        self.wait_up(env)

    def wait_up(self, env: str) -> None:
        for _ in range(200):
            if get(self.url(env, "/users/1"), timeout=1) == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"{env} never came up")

    def branch(self, name: str) -> str:
        return git(self.origin, "rev-parse", name)

    def file_on(self, branch: str, path: str) -> str:
        return git(self.origin, "show", f"{branch}:{path}")

    def send(self, env: str, paths: list[str], n: int = 1) -> None:
        for _ in range(n):
            for p in paths:
                get(self.url(env, p))

    def background(self, env: str, paths: list[str]) -> "Traffic":
        t = Traffic(self, env, paths)
        t.start()
        self.traffic.append(t)
        return t

    def stop(self) -> None:
        for t in self.traffic:
            t.stop()
        for env in self.ports:
            self.sh("deploy/stop.sh", env)

    def state_rows(self, sql: str, params: list | None = None) -> list[dict]:
        import sqlite3

        con = sqlite3.connect(self.project.state)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params or [])]
        finally:
            con.close()

    def deployments(self) -> list[dict]:
        rows = self.state_rows("SELECT * FROM deployments ORDER BY id")
        for r in rows:
            r["baseline"] = json.loads(r["baseline"])
        return rows

    def audit(self, decision_prefix: str = "") -> list[dict]:
        return [r for r in self.state_rows("SELECT * FROM audit ORDER BY id") if r["decision"].startswith(decision_prefix)]


def configure(root: Path, ports: dict[str, int], deploy_root: Path, **env_overrides: dict) -> None:
    """The demo's agent.toml as `agent demo` writes it (this test's ports, environments under `deploy_root`), plus overrides."""
    from agent_cli.demo.setup import config_text

    (root / "agent.toml").write_text(config_text((DEMO / "agent.toml").read_text(), ports, deploy_root))
    env_overrides = {**env_overrides, "policy": {"max_rollbacks_per_issue": 3, **env_overrides.get("policy", {})}}
    for env, overrides in env_overrides.items():
        _override(root / "agent.toml", env, overrides)


def _override(config: Path, env: str, overrides: dict) -> None:
    lines = config.read_text().splitlines()
    head = f"[environments.{env}]" if env in ("staging", "production") else f"[{env}]"
    start = lines.index(head)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    section = [ln for ln in lines[start + 1:end] if ln.split("=")[0].strip() not in overrides]
    section += [f"{k} = {json.dumps(v)}" for k, v in overrides.items()]
    config.write_text("\n".join(lines[:start + 1] + section + lines[end:]) + "\n")


def make_release(tmp_path: Path, monkeypatch, **env_overrides: dict) -> Release:
    """The demo shop at its good version on origin's main and staging; nothing deployed yet."""
    root = tmp_path / "shop"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".deploy", "logs", "__pycache__", ".agent", ".pytest_cache"))
    ports = {"staging": free_port(), "production": free_port()}
    monkeypatch.setenv("STAGING_PORT", str(ports["staging"]))
    monkeypatch.setenv("PRODUCTION_PORT", str(ports["production"]))
    monkeypatch.setenv("STOP_TIMEOUT", "2")
    monkeypatch.setenv("DEPLOY_ROOT", str(tmp_path / "servers"))
    configure(root, ports, tmp_path / "servers", **env_overrides)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".deploy/\nlogs/\n.agent/\n__pycache__/\n.pytest_cache/\n")
    commit(root, "shop")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main", "main:staging")
    project = Project(root)
    return Release(project, origin, ports)


def push_change(release: Release, message: str, files: dict[str, str], branches: tuple[str, ...] = ("main", "staging")) -> str:
    """A person's commit on main, pushed to origin's `branches`."""
    root = release.root
    for path, text in files.items():
        (root / path).write_text(text)
    sha = commit(root, message)
    for b in branches:
        git(root, "push", "-q", "origin", f"main:{b}")
    return sha


def detect_bug(release: Release) -> int:
    """The None-coupon bug live in production and staging, its errors in the production log, scanned into an issue."""
    push_change(release, "shop: simplify apply_coupon", {"shop.py": (DEMO / "scenarios" / "bug_none.py").read_text()})
    release.start("production", "main")
    release.start("staging", "staging")
    release.send("production", ["/orders/2/total", "/orders/1/total"], 3)
    result = release.project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    issues = [i for i in result.json()["new_issues"] if "AttributeError" in i["title"]]
    assert len(issues) == 1, result.stdout
    return int(issues[0]["id"])


def shop_fixed() -> str:
    """shop.py with the guard back: what a correct fix of the None-coupon bug leaves."""
    return (DEMO / "shop.py").read_text()


def ready_fix(release: Release, issue_id: int, files: dict[str, str], summary: str = "test fix", *, evidence: str | None = None,
              confidence: float = 0.95) -> str:
    """A committed fix for `issue_id` whose content a test chooses (a model could have written any of these):
    a commit on origin/main's head on branch agent/fix-<issue>-<n>, recorded as the issue's fix, the issue fix_ready."""
    from agent_cli import transitions
    from agent_cli.gitrepo import GitRepo
    from agent_cli.state import State, utcnow

    git_repo = GitRepo(release.root)
    base = git_repo.fetch_branch("origin", "main")
    assert base
    tree = git_repo.tree_with(base, files)
    sha = git_repo.commit_tree(tree, base, f"fix: {summary}\n\nAgent-Issue: {issue_id}\n", dict(os.environ))
    with State.open(release.project.state) as state:
        n = state.count("SELECT COUNT(*) FROM fixes WHERE issue_id = ?", [issue_id]) + 1
        branch = f"agent/fix-{issue_id}-{n}"
        git_repo.create_branch(branch, sha)
        with state.transaction() as db:
            db.execute("UPDATE fixes SET status = 'superseded' WHERE issue_id = ? AND status = 'committed'", [issue_id])
            db.execute("INSERT INTO fixes(issue_id, attempt, created_at, strategy, status, branch, base_sha, sha, summary, files, confidence, evidence) "
                       "VALUES (?, ?, ?, 'test', 'committed', ?, ?, ?, ?, ?, ?, ?)",
                       [issue_id, n, utcnow(), branch, base, sha, summary, json.dumps(sorted(files)), confidence, evidence])
        status = state.rows("SELECT status FROM issues WHERE id = ?", [issue_id])[0]["status"]
        if status == "detected":
            transitions.move(state, issue_id, "diagnosed", step="test", reason="test setup")
        transitions.move(state, issue_id, "fix_ready", step="test", reason="test setup")
    return sha
