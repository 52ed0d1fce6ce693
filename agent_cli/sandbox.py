"""Where validation commands run: inside bubblewrap when it works, else portable mode.

Validation runs code the model wrote (a test file, a conftest.py), so it is
treated as hostile. In both modes the process gets a scrubbed environment (an
allow-list, never the agent's own keys) and a private HOME/TMPDIR. Under
bubblewrap the attempt's tree is the only writable path, the rest of the
filesystem is read-only, the state directory, the agent's config and the
checkout's `.env*` files are masked, /tmp is private, and there is no network
and no view of other processes. Portable mode has none of that isolation; the
checkout integrity check is its last line of defence.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from agent_cli.env_names import ALLOWED_NAMES, ALLOWED_PREFIXES, denied_name
from agent_cli.errors import PolicyRefused

if TYPE_CHECKING:
    from agent_cli.config import Settings
    from agent_cli.state import State

PROBE_KEY = "sandbox_probe"

SANDBOX_HOME = "/tmp/home"


def scrubbed_env(source: dict[str, str], extra: dict[str, str], pass_env: list[str]) -> dict[str, str]:
    """The environment a validation command sees: the allow-list, `pass_env` names, then `[validate] env`."""
    env = {k: v for k, v in source.items() if (k in ALLOWED_NAMES or k.startswith(ALLOWED_PREFIXES)) and not denied_name(k)}
    env.update({k: source[k] for k in pass_env if k in source and not denied_name(k)})
    env.update(extra)  # values written in the (trusted) config; config load refuses the agent's own names
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")  # the tree is thrown away; its caches would only be noise
    return env


def _probe_args(bwrap: str) -> list[str]:
    return [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-all", "--die-with-parent", "--new-session", "--", "/bin/sh", "-c", "true"]


@lru_cache(maxsize=1)
def probe() -> tuple[bool, str]:
    """(bubblewrap usable, why): one real sandboxed `true`, once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed"
    try:
        done = subprocess.run(_probe_args(bwrap), capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap cannot run: {exc}"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return False, f"bwrap cannot create a sandbox here: {detail}"
    return True, f"bubblewrap at {bwrap}"


@dataclass(frozen=True)
class Sandbox:
    mode: str  # "bwrap" | "none"
    note: str  # one line for fix output and `agent status`
    env: dict[str, str]
    masked_dirs: tuple[Path, ...] = ()
    masked_files: tuple[Path, ...] = ()
    network: bool = False  # only `[validate] setup` (installing dependencies) gets it

    @property
    def isolated(self) -> bool:
        return self.mode == "bwrap"

    def with_network(self) -> "Sandbox":
        return replace(self, network=True)

    def _tree_env(self, tree: Path) -> dict[str, str]:
        # The attempt's own code first: an editable install of the user's checkout must not shadow it.
        paths = [str(tree)] + ([str(tree / "src")] if (tree / "src").is_dir() else [])
        return {"PYTHONPATH": ":".join(paths)}

    def command(self, command: str, tree: Path, private: Path) -> tuple[list[str], dict[str, str]]:
        """argv and environment for one shell `command` run in `tree`; `private` is a fresh per-command directory."""
        if not self.isolated:
            home, tmp = private / "home", private / "tmp"
            home.mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            return ["/bin/sh", "-c", command], {**self.env, **self._tree_env(tree), "HOME": str(home), "TMPDIR": str(tmp)}
        bwrap = shutil.which("bwrap") or "bwrap"
        args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for directory in self.masked_dirs:
            if directory.is_dir():
                args += ["--tmpfs", str(directory)]
        for file in self.masked_files:
            if file.is_file():
                args += ["--ro-bind", "/dev/null", str(file)]
        args += ["--tmpfs", "/tmp"]
        for keep in _visible_under_tmp(command, self.env):
            args += ["--ro-bind", str(keep), str(keep)]
        args += ["--bind", str(tree), str(tree), "--dir", SANDBOX_HOME, "--unshare-all", *(["--share-net"] if self.network else []),
                 "--die-with-parent", "--new-session", "--chdir", str(tree), "--", "/bin/sh", "-c", command]
        return args, {**self.env, **self._tree_env(tree), "HOME": SANDBOX_HOME, "TMPDIR": "/tmp"}


def _visible_under_tmp(command: str, env: dict[str, str]) -> list[Path]:
    """Tools under /tmp that the command needs (a venv, a PATH entry, a path it names): kept visible, read-only, over the private /tmp."""
    candidates = [Path(p) for p in env.get("PATH", "").split(":") if p]
    if env.get("VIRTUAL_ENV"):
        candidates.append(Path(env["VIRTUAL_ENV"]))
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        word = word.split("=", 1)[1] if "=" in word.split("/")[0] else word  # VAR=/tmp/x
        word = word.rstrip(";&|)")
        if word.startswith("/tmp/"):
            named = Path(word)
            venv = next((p for p in named.parents if (p / "pyvenv.cfg").is_file()), None)
            candidates.append(venv or named)
    wanted: list[Path] = []
    for path in candidates:
        if path.is_absolute() and path.parts[1:2] == ("tmp",) and path.exists() and path not in wanted:
            wanted.append(path)
    return wanted


def sandbox_for(settings: "Settings") -> Sandbox:
    """The sandbox validation runs in, as `[validate] sandbox` asks; refuses when bwrap is required but unusable."""
    validate = settings.validate_
    env = scrubbed_env(dict(os.environ), validate.env, validate.pass_env)
    masked_dirs = (settings.state_path.parent,)
    repo = settings.repo_path
    masked_files = tuple(p for p in repo.glob(".env*") if p.is_file())
    if settings.config_path is not None:
        masked_files += (settings.config_path,)
    if validate.sandbox == "none":
        return Sandbox("none", "sandbox: none (validate.sandbox = \"none\"): validation runs unisolated", env)
    usable, why = probe()
    if usable:
        return Sandbox("bwrap", f"sandbox: bwrap ({why})", env, masked_dirs, masked_files)
    if validate.sandbox == "bwrap":
        raise PolicyRefused(f"validate.sandbox is \"bwrap\" but {why}", rule="validate.sandbox")
    return Sandbox("none", f"sandbox: portable mode, not isolated ({why})", env)


def remembered_probe(state: "State") -> tuple[bool, str]:
    """probe(), remembered in the state file while the bwrap binary is the same one (status need not spawn it)."""
    bwrap = shutil.which("bwrap")
    try:
        stat = os.stat(bwrap) if bwrap else None
    except OSError:
        stat = None
    key = f"{bwrap}:{stat.st_mtime_ns}:{stat.st_size}" if stat else "absent"
    seen = state.get_setting(PROBE_KEY) or {}
    if seen.get("key") == key:
        return bool(seen["usable"]), str(seen["why"])
    usable, why = probe()
    state.set_setting(PROBE_KEY, {"key": key, "usable": usable, "why": why})
    return usable, why


def describe(settings: "Settings", state: "State") -> dict[str, str]:
    """For `agent status`: the mode validation would use now, and why."""
    if settings.validate_.sandbox == "none":
        return {"mode": "none", "detail": "validate.sandbox = \"none\""}
    usable, why = remembered_probe(state)
    if usable:
        return {"mode": "bwrap", "detail": why}
    mode = "refused" if settings.validate_.sandbox == "bwrap" else "portable"
    return {"mode": mode, "detail": why}
