"""`[validate] setup`: prepare an attempt's tree with the project's dependencies, once per lockfile hash.

Setup (`npm ci`, `pip install -e .`, `uv sync`) runs on the pristine base tree,
inside the sandbox but with network, before any model-written code is in the
tree. What it creates (the ignored or untracked top-level entries: node_modules,
.venv, ...) is copied into a cache keyed on the setup commands and the
lockfiles' contents; a later attempt with the same key gets a fresh copy
instead of a reinstall. A copy, not a link: a tree's code must not be able to
change what the next attempt starts from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent_cli.fix.strategies import AttemptFailed
from agent_cli.fix.validate import CommandResult, first_failing_lines, run_command
from agent_cli.gitrepo import GitRepo
from agent_cli.sandbox import Sandbox

LOCKFILES = ("package.json", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb",
             "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile.lock", "setup.py", "setup.cfg", "go.mod", "go.sum")
KEEP_CACHES = 3  # per repository; older keys are removed
COMPLETE = ".complete.json"


@dataclass
class Prepared:
    key: str = ""
    how: str = "none"  # none | ran | reused
    entries: tuple[str, ...] = ()
    results: tuple[CommandResult, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "how": self.how, "entries": list(self.entries), "results": [r.as_dict() for r in self.results]}


def lockfile_key(tree: Path, setup: list[str]) -> str:
    digest = hashlib.sha256(json.dumps(setup).encode())
    names = sorted({*LOCKFILES, *(p.name for p in tree.glob("requirements*.txt"))})
    for name in names:
        path = tree / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _copy(src: Path, dst: Path) -> None:
    # cp keeps symlinks as links and shares blocks where the filesystem can (reflink); never hard links.
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True, capture_output=True, timeout=1800)


def prepare(tree: GitRepo, tree_path: Path, cache_root: Path, setup: list[str], box: Sandbox, timeout_s: float,
            on_start: object = None) -> Prepared:
    if not setup:
        return Prepared()
    key = lockfile_key(tree_path, setup)
    cache = cache_root / key
    manifest = cache / COMPLETE
    if manifest.is_file():
        entries = tuple(json.loads(manifest.read_text())["entries"])
        for entry in entries:
            _copy(cache / entry, tree_path / entry)
        return Prepared(key, "reused", entries)
    results = []
    networked = box.with_network()
    for command in setup:
        result = run_command(command, tree_path, timeout_s, networked, on_start=on_start)  # type: ignore[arg-type]
        results.append(result)
        if not result.ok:
            state = "timed out" if result.timed_out else f"exit {result.exit_code}"
            lines = "; ".join(first_failing_lines(result.output_tail, 3) or result.output_tail.strip().splitlines()[-1:])
            raise AttemptFailed("failed", [f"setup `{command}` {state}: {lines}"[:600]], final=True)
    status = tree.run("status", "--porcelain=v1", "-z", "--ignored=traditional", "--untracked-files=normal")
    entries = tuple(sorted({e[3:].rstrip("/").split("/")[0] for e in status.split("\0") if e[:2] in ("!!", "??")}))
    staging = cache_root / f".{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for entry in entries:
        _copy(tree_path / entry, staging / entry)
    (staging / COMPLETE).write_text(json.dumps({"entries": entries, "setup": setup}))
    shutil.rmtree(cache, ignore_errors=True)
    staging.rename(cache)
    _prune(cache_root, keep=cache)
    return Prepared(key, "ran", entries, tuple(results))


def _prune(cache_root: Path, *, keep: Path) -> None:
    done = sorted((p for p in cache_root.iterdir() if (p / COMPLETE).is_file() and p != keep), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[KEEP_CACHES - 1:]:
        shutil.rmtree(old, ignore_errors=True)
