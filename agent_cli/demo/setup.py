"""The demo's world: the example shop as a git repository with a bare origin (main, staging), each environment a
checkout served on a free 127.0.0.1 port by the shop's own deploy script, and users sending requests."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.errors import ConfigError, StepFailed

DEMO_APP = Path(__file__).resolve().parents[2] / "examples" / "demo-app"
IDENTITY = {"GIT_AUTHOR_NAME": "Demo Developer", "GIT_AUTHOR_EMAIL": "developer@example.invalid",
            "GIT_COMMITTER_NAME": "Demo Developer", "GIT_COMMITTER_EMAIL": "developer@example.invalid"}
_IGNORED = shutil.ignore_patterns(".deploy", "logs", "__pycache__", ".agent", ".pytest_cache")


def demo_source() -> Path:
    if not (DEMO_APP / "app.py").is_file():
        raise ConfigError(f"the demo app is not at {DEMO_APP}: `agent demo` runs from a clone of the agent-cli repository")
    return DEMO_APP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5) -> int | None:
    """The status of GET `url`; None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, http.client.HTTPException):
        return None


def config_text(template: str, ports: dict[str, int], deploy_root: Path) -> str:
    """The demo's agent.toml for these ports, with environments deployed under `deploy_root` (outside the repo, as
    servers are: stack frames then point at deployed copies, mapped back to the repository's files)."""
    text = template.replace('".deploy/', f'"{deploy_root}/')
    return text.replace("127.0.0.1:8001", f"127.0.0.1:{ports['staging']}").replace("127.0.0.1:8000", f"127.0.0.1:{ports['production']}")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, **IDENTITY})
    if done.returncode != 0:
        raise StepFailed(f"demo: git {args[0]} failed: {done.stderr.strip()[:300]}")
    return done.stdout.strip()


@dataclass
class Shop:
    base: Path
    ports: dict[str, int]
    traffic: list["Users"] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.base / "shop"

    @property
    def origin(self) -> Path:
        return self.base / "origin.git"

    @property
    def config(self) -> Path:
        return self.root / "agent.toml"

    def url(self, env: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[env]}{path}"

    def environ(self) -> dict[str, str]:
        """What the deploy scripts read: ports, where environments live, a short stop timeout."""
        return {"STAGING_PORT": str(self.ports["staging"]), "PRODUCTION_PORT": str(self.ports["production"]),
                "DEPLOY_ROOT": str(self.base / "servers"), "STOP_TIMEOUT": "2"}

    def pull(self) -> None:
        """The developer's checkout brought up to what the agent shipped."""
        git(self.root, "pull", "-q", "--ff-only", "origin", "main")

    def commit(self, message: str, files: dict[str, str], *, date: str | None = None) -> str:
        for path, text in files.items():
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(text)
        git(self.root, "add", "-A")
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
        done = subprocess.run(["git", "commit", "-q", "-m", message], cwd=self.root, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **IDENTITY, **env})
        if done.returncode != 0:
            raise StepFailed(f"demo: git commit failed: {done.stderr.strip()[:300]}")
        return git(self.root, "rev-parse", "HEAD")

    def push(self, *branches: str) -> None:
        for b in branches:
            git(self.root, "push", "-q", "origin", f"main:{b}")

    def deploy(self, env: str, ref: str) -> None:
        """What the team did before the agent: deploy.sh by hand."""
        sha = git(self.origin, "rev-parse", ref)
        done = subprocess.run(["sh", "deploy/deploy.sh", sha, ref, env], cwd=self.root, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.environ()})
        if done.returncode != 0:
            raise StepFailed(f"demo: deploy.sh {env} failed: {done.stderr.strip()[:300]}")
        for _ in range(200):
            if get(self.url(env, "/users/1"), timeout=1) == 200:
                return
            time.sleep(0.05)
        raise StepFailed(f"demo: {env} did not come up on port {self.ports[env]}")

    def users(self, env: str, paths: list[str]) -> "Users":
        u = Users(self, env, paths)
        u.start()
        self.traffic.append(u)
        return u

    def stop(self) -> None:
        for u in self.traffic:
            u.stop()
        for env in self.ports:
            subprocess.run(["sh", "deploy/stop.sh", env], cwd=self.root, capture_output=True, timeout=60, env={**os.environ, **self.environ()})


class Users(threading.Thread):
    """People using the shop: a request every few tens of milliseconds."""

    def __init__(self, shop: Any, env: str, paths: list[str]) -> None:  # anything with url(env, path)
        super().__init__(daemon=True)
        self.shop, self.env, self.paths = shop, env, paths
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for p in self.paths:
                get(self.shop.url(self.env, p), timeout=2)
            self.halt.wait(0.05)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


def build(base: Path) -> Shop:
    """The shop at its good version, three days old, on origin's main and staging; nothing deployed yet."""
    src = demo_source()
    shop = Shop(base, {"staging": free_port(), "production": free_port()})
    shutil.copytree(src, shop.root, ignore=_IGNORED)
    shop.config.write_text(config_text((src / "agent.toml").read_text(), shop.ports, base / "servers"))
    (shop.root / ".gitignore").write_text(".deploy/\nlogs/\n.agent/\n__pycache__/\n.pytest_cache/\n")
    git(shop.root, "init", "-q", "-b", "main")
    three_days_ago = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3 * 86400))
    shop.commit("shop: users, orders and coupons", {}, date=three_days_ago)
    subprocess.run(["git", "init", "-q", "--bare", str(shop.origin)], check=True, capture_output=True, timeout=60)
    git(shop.root, "remote", "add", "origin", str(shop.origin))
    shop.push("main", "staging")
    return shop
