"""The bundled demo app and its deploy scripts, driven for real: a git repo with a
bare origin, checkouts under a deploy root, apps on free 127.0.0.1 ports."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import git

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-app"
SCENARIOS = DEMO / "scenarios"
RECIPES = ROOT / "examples" / "deploy"
NEW_KEYS = ("min_successful_samples", "min_requests", "sources")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that is not us to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(check, tries: int = 300, pause: float = 0.1):
    """The first truthy result of check(), polled a bounded number of times; else the last result."""
    result = None
    for _ in range(tries):
        result = check()
        if result:
            return result
        time.sleep(pause)
    return result


def copy_demo(dest: Path, scenario: str | None = None) -> Path:
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache", "logs", ".deploy", ".agent"))
    if scenario:
        shutil.copy(SCENARIOS / f"{scenario}.py", dest / "shop.py")
    return dest


class Site:
    """The demo app as a repo with a bare origin, and the deploy scripts run from it."""

    def __init__(self, tmp_path: Path) -> None:
        self.repo = copy_demo(tmp_path / "shop")
        self.origin = tmp_path / "origin.git"
        self.deploy_root = tmp_path / "deploys"
        self.ports = {"staging": free_port(), "production": free_port()}
        self.pids: set[int] = set()
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", "the shop")
        git(tmp_path, "init", "-q", "--bare", str(self.origin))
        git(self.repo, "remote", "add", "origin", str(self.origin))
        git(self.repo, "push", "-q", "origin", "main", "main:staging")
        self.env = {
            **os.environ,
            "DEPLOY_ROOT": str(self.deploy_root),
            "PYTHON": sys.executable,
            "STAGING_PORT": str(self.ports["staging"]),
            "PRODUCTION_PORT": str(self.ports["production"]),
            "STOP_TIMEOUT": "3",
        }

    def sh(self, script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.shell(shlex.join(["sh", f"deploy/{script}", *args]), env=env)

    def shell(self, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(command, shell=True, cwd=self.repo, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=60)
        self.remember_pids()
        return p

    def commit(self, message: str, files: dict[str, str], branch: str = "staging") -> str:
        """Commit `files` (path -> text) on top of `branch` and push it; the new sha."""
        git(self.repo, "checkout", "-q", "-B", branch, f"origin/{branch}" if self.has_remote_branch(branch) else "HEAD")
        for path, text in files.items():
            (self.repo / path).write_text(text)
        git(self.repo, "commit", "-qam", message)
        git(self.repo, "push", "-q", "origin", f"HEAD:{branch}")
        return git(self.repo, "rev-parse", "HEAD")

    def has_remote_branch(self, branch: str) -> bool:
        git(self.repo, "fetch", "-q", "origin")
        return subprocess.run(["git", "rev-parse", "-q", "--verify", f"origin/{branch}"], cwd=self.repo, capture_output=True).returncode == 0

    def head(self, branch: str = "staging") -> str:
        return git(self.repo, "rev-parse", f"origin/{branch}") if self.has_remote_branch(branch) else git(self.repo, "rev-parse", "HEAD")

    def pid(self, env: str) -> int | None:
        pidfile = self.deploy_root / env / "app.pid"
        return int(pidfile.read_text()) if pidfile.exists() else None

    def remember_pids(self) -> None:
        for env in self.ports:
            if (pid := self.pid(env)) is not None:
                self.pids.add(pid)

    def wait_up(self, env: str, sha: str = "", live: bool = False) -> None:
        """Poll status.sh (a bounded number of tries) until it exits 0."""
        args = [*(["--live"] if live else []), env, *([sha] if sha else [])]
        last: list[subprocess.CompletedProcess[str]] = []
        eventually(lambda: last.append(self.sh("status.sh", *args)) or last[-1].returncode == 0, tries=150)
        assert last[-1].returncode == 0, last[-1].stderr

    def teardown(self) -> None:
        for env in self.ports:
            self.sh("stop.sh", env)
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
                eventually(lambda: not alive(pid), tries=50)


@pytest.fixture
def site(tmp_path: Path):
    s = Site(tmp_path)
    yield s
    s.teardown()
    assert not [pid for pid in s.pids if alive(pid)], "an app outlived its test"


def test_deploy_serves_exactly_the_commit_and_a_redeploy_replaces_the_process(site: Site) -> None:
    port = site.ports["staging"]
    first = site.head()
    assert site.sh("status.sh", "staging").returncode == 1  # nothing deployed yet

    deployed = site.sh("deploy.sh", first, "staging", "staging")
    assert deployed.returncode == 0, deployed.stderr
    site.wait_up("staging", first)
    assert get(port, "/health") == (200, {"status": "ok"})
    assert get(port, "/users/1") == (200, {"id": 1, "name": "Example User One", "email": "one@example.com"})
    assert get(port, "/users/7") == (404, {"error": "no such user"})
    checkout = site.deploy_root / "staging" / "app"
    assert git(checkout, "rev-parse", "HEAD") == first
    assert (site.deploy_root / "staging" / "sha").read_text().strip() == first
    assert (site.deploy_root / "staging" / "port").read_text().strip() == str(port)
    # The caller's repository is left exactly as it was: same branch, clean tree.
    assert git(site.repo, "status", "--porcelain") == ""
    assert git(site.repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    access = [json.loads(line) for line in (site.deploy_root / "staging" / "logs" / "app.log").read_text().splitlines()]
    assert {"level": "info", "path": "/users/1", "status": 200} in [{k: r.get(k) for k in ("level", "path", "status")} for r in access]
    assert all(r["time"].endswith("+00:00") for r in access)
    old_pid = site.pid("staging")
    assert old_pid and alive(old_pid)

    shop = (site.repo / "shop.py").read_text().replace("Example User One", "Renamed User One")
    second = site.commit("rename user one", {"shop.py": shop})
    deployed = site.sh("deploy.sh", second, "staging", "staging")
    assert deployed.returncode == 0, deployed.stderr
    site.wait_up("staging", second[:10])
    assert get(port, "/users/1")[1]["name"] == "Renamed User One"
    assert git(checkout, "rev-parse", "HEAD") == second
    new_pid = site.pid("staging")
    assert new_pid != old_pid and alive(new_pid)
    assert not alive(old_pid)
    # status.sh with a sha answers for that commit only.
    assert site.sh("status.sh", "staging", first).returncode == 1

    stopped = site.sh("stop.sh", "staging")
    assert stopped.returncode == 0, stopped.stderr
    assert not alive(new_pid)
    assert not port_open(port)
    assert not (site.deploy_root / "staging" / "app.pid").exists()
    assert site.sh("status.sh", "staging").returncode == 1
    assert site.sh("stop.sh", "staging").returncode == 0  # stopping twice is fine


def test_environments_are_apart_and_the_default_remote_is_origin(site: Site) -> None:
    sha = site.head("main")
    for env in ("staging", "production"):
        deployed = site.sh("deploy.sh", sha, "main" if env == "production" else "staging", env)
        assert deployed.returncode == 0, deployed.stderr
    site.wait_up("staging")
    site.wait_up("production")
    assert get(site.ports["production"], "/health")[0] == 200
    site.sh("stop.sh", "staging")
    assert not port_open(site.ports["staging"])
    assert get(site.ports["production"], "/health")[0] == 200  # the other environment is untouched


def test_a_commit_that_cannot_be_fetched_leaves_the_running_app_alone(site: Site) -> None:
    assert site.sh("deploy.sh", site.head(), "staging", "staging").returncode == 0
    site.wait_up("staging")
    pid = site.pid("staging")

    bad = site.sh("deploy.sh", "0123456789abcdef0123456789abcdef01234567", "staging", "staging")
    assert bad.returncode == 1
    assert "0123456789abcdef" in bad.stderr
    assert site.pid("staging") == pid and alive(pid)
    assert get(site.ports["staging"], "/health")[0] == 200

    gone = site.sh("deploy.sh", site.head(), "staging", "staging", env={"DEPLOY_REMOTE": str(site.origin.parent / "missing.git")})
    assert gone.returncode == 1 and alive(pid)


@pytest.mark.parametrize(
    "args",
    [(), ("abc", "staging"), ("abc", "staging", "../etc"), ("-x", "staging", "staging")],
    ids=["none", "two", "env-path", "option-sha"],
)
def test_usage_errors_exit_2(site: Site, args: tuple[str, ...]) -> None:
    p = site.sh("deploy.sh", *args)
    assert p.returncode == 2 and "deploy.sh" in p.stderr
    assert not site.deploy_root.exists() or not any(site.deploy_root.iterdir())


def test_a_stale_pidfile_never_gets_another_process_killed(site: Site, tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (site.deploy_root / "staging").mkdir(parents=True)
        (site.deploy_root / "staging" / "app.pid").write_text(f"{bystander.pid}\n")
        assert site.sh("stop.sh", "staging").returncode == 0
        assert bystander.poll() is None
        (site.deploy_root / "staging" / "app.pid").write_text(f"{bystander.pid}\n")
        assert site.sh("status.sh", "staging").returncode == 1
        assert site.sh("deploy.sh", site.head(), "staging", "staging").returncode == 0
        site.wait_up("staging")
        assert bystander.poll() is None
        assert site.pid("staging") != bystander.pid
    finally:
        bystander.kill()
        bystander.wait()


def test_an_app_that_ignores_sigterm_is_killed(site: Site) -> None:
    # A commit whose app ignores SIGTERM (as a hung one would): stop.sh escalates to SIGKILL.
    app = (site.repo / "app.py").read_text().replace("lambda *_: sys.exit(0)", "signal.SIG_IGN")
    sha = site.commit("ignore sigterm", {"app.py": app})
    assert site.sh("deploy.sh", sha, "staging", "staging").returncode == 0
    site.wait_up("staging")
    pid = site.pid("staging")
    stopped = site.sh("stop.sh", "staging", env={"STOP_TIMEOUT": "1"})
    assert stopped.returncode == 0 and "SIGKILL" in stopped.stderr
    assert not alive(pid) and not port_open(site.ports["staging"])


def test_bad_health_is_live_but_not_healthy_and_rollback_redeploys_the_revert(site: Site) -> None:
    port = site.ports["staging"]
    bad = site.commit("shop: readiness check", {"shop.py": (SCENARIOS / "bad_health.py").read_text()})
    assert site.sh("deploy.sh", bad, "staging", "staging").returncode == 0
    site.wait_up("staging", bad, live=True)  # live: it answers
    assert get(port, "/health") == (503, {"status": "unavailable", "reason": "catalogue not loaded"})
    assert get(port, "/users/1")[0] == 200
    unhealthy = site.sh("status.sh", "staging", bad)
    assert unhealthy.returncode == 1 and "503" in unhealthy.stderr

    # The agent's rollback: a revert pushed to the branch, then rollback_command.
    git(site.repo, "revert", "--no-edit", "HEAD")
    git(site.repo, "push", "-q", "origin", "HEAD:staging")
    reverted = git(site.repo, "rev-parse", "HEAD")
    rolled = site.sh("rollback.sh", "staging", "staging")
    assert rolled.returncode == 0, rolled.stderr
    site.wait_up("staging", reverted)
    assert get(port, "/health") == (200, {"status": "ok"})
    assert git(site.deploy_root / "staging" / "app", "rev-parse", "HEAD") == reverted


def test_the_demo_configs_commands_deploy_check_and_roll_back(site: Site) -> None:
    config = tomllib.loads((site.repo / "agent.toml").read_text())
    staging = config["environments"]["staging"]
    sha = site.head()

    def run(key: str) -> subprocess.CompletedProcess[str]:
        values = {"sha": shlex.quote(sha), "branch": shlex.quote(staging["branch"]), "env": "staging"}
        return site.shell(staging[key].format(**values))

    assert run("deploy_command").returncode == 0
    assert eventually(lambda: run("status_command").returncode == 0, tries=150)
    assert get(site.ports["staging"], "/health")[0] == 200
    pid = site.pid("staging")
    assert run("rollback_command").returncode == 0
    assert eventually(lambda: run("status_command").returncode == 0, tries=150)
    assert site.pid("staging") != pid and not alive(pid)


def test_demo_config_is_what_the_agent_loads() -> None:
    from agent_cli.config import load_settings
    from agent_cli.errors import ConfigError

    config = tomllib.loads((DEMO / "agent.toml").read_text())
    for env in ("staging", "production"):
        table = config["environments"][env]
        assert (table["interval_s"], table["monitor_s"], table["baseline_s"]) == (1, 5, 5)
        assert (table["min_successful_samples"], table["min_requests"]) == (3, 1)
        for key in ("deploy_command", "status_command", "rollback_command"):
            script = shlex.split(table[key])[1]
            assert (DEMO / script).is_file(), f"{env}.{key} runs {script}, which the demo does not ship"
    assert config["validate"]["commands"] == ["python -m pytest -q"]
    try:
        settings = load_settings(DEMO / "agent.toml", require_repo=False)
    except ConfigError as exc:
        if any(key in str(exc) for key in NEW_KEYS):
            pytest.skip(f"the release settings have not landed yet: {exc}")
        raise
    assert {s.kind for s in settings.sources} == {"file", "http"}
    assert settings.environments["staging"].deploy_command.startswith("sh deploy/deploy.sh")


@pytest.mark.parametrize("scenario", [None, "bug_none", "bad_health"])
def test_the_demo_apps_own_tests_pass_even_on_the_scenarios(tmp_path: Path, scenario: str | None) -> None:
    app = copy_demo(tmp_path / "app", scenario)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=app, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert " passed" in p.stdout and "failed" not in p.stdout


@pytest.fixture
def run_app(tmp_path: Path):
    """Start the app of a copy of the demo (optionally with a scenario's shop.py) on a free port."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(scenario: str | None) -> tuple[int, Path, subprocess.Popen[bytes]]:
        app = copy_demo(tmp_path / (scenario or "good"), scenario)
        port, log = free_port(), tmp_path / f"{scenario}.log"
        env = {**os.environ, "PORT": str(port), "APP_LOG": str(log)}
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        assert eventually(lambda: proc.poll() is not None or port_open(port)) and proc.poll() is None
        return port, log, proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_bug_none_answers_500_and_logs_the_traceback(run_app) -> None:
    port, log, proc = run_app("bug_none")
    assert get(port, "/orders/2/total") == (500, {"error": "internal server error"})
    assert get(port, "/orders/1/total")[0] == 200
    assert get(port, "/health") == (200, {"status": "ok"})
    records = [json.loads(line) for line in log.read_text().splitlines()]
    errors = [r for r in records if r["level"] == "error"]
    assert len(errors) == 1
    error = errors[0]
    assert (error["path"], error["status"]) == ("/orders/2/total", 500)
    assert error["exc_info"].startswith("Traceback (most recent call last):")
    assert "in apply_coupon" in error["exc_info"] and "shop.py" in error["exc_info"]
    assert error["exc_info"].rstrip().endswith("AttributeError: 'NoneType' object has no attribute 'discount'")
    assert {"level": "info", "path": "/orders/2/total", "status": 500} in [{k: r.get(k) for k in ("level", "path", "status")} for r in records]
    # The agent reads the line as an error event with the traceback and the request.
    from agent_cli.detect.events import parse_json_record

    parsed = parse_json_record(error)
    assert "AttributeError" in str(parsed) and "/orders/2/total" in str(parsed)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert json.loads(log.read_text().splitlines()[-1])["msg"] == "stopped"
    assert proc.stderr is not None and proc.stderr.read() == b""  # the JSON log has it all


def test_the_good_shop_totals_an_order_without_a_coupon(run_app) -> None:
    port, log, _ = run_app(None)
    assert get(port, "/orders/2/total") == (200, {"order_id": 2, "subtotal": 180, "discount": 0, "total": 180})
    assert get(port, "/orders/9/total") == (404, {"error": "no such order"})
    assert not [line for line in log.read_text().splitlines() if json.loads(line)["level"] != "info"]


def test_bad_health_answers_503_on_health_only(run_app) -> None:
    port, _, _ = run_app("bad_health")
    assert get(port, "/health")[0] == 503
    assert get(port, "/orders/2/total")[0] == 200


def test_every_recipe_has_its_three_commands() -> None:
    text = (RECIPES / "README.md").read_text()
    for section in ("Git-push platforms", "Kubernetes", "Docker Compose", "systemd", "Plain script"):
        assert f"## {section}" in text, section
    blocks = [b.split("```", 1)[0] for b in text.split("```toml")[1:]]
    assert len(blocks) >= 5
    for block in blocks:
        env = tomllib.loads(block)["environments"]
        for table in env.values():
            assert {"deploy_command", "status_command", "rollback_command"} <= set(table), block
    assert "example.com" in text
