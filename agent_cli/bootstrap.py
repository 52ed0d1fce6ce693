"""`agent init`: detect the project, write agent.toml from the template, create the state file.

The template (config.example.toml, via `config.template_text()`) is edited in memory, line by
line, so its comments survive:

- `[validate] commands` and `setup` are set for the project kind found in the repository
  (node, python, go; see `detect_project`); with nothing found the template's commands stay and
  a comment says so.
- The template's health probe (`[[sources]] kind = "http"`) is written commented out: there is
  no URL to probe until a person gives one, and probing the template's placeholder would raise a
  false P0 ("endpoint down") on the first scan.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_cli import audit
from agent_cli.config import load_settings, template_text
from agent_cli.errors import AgentError, ConfigError
from agent_cli.state import State

PYTHON_MARKERS = ("pyproject.toml", "setup.py")  # plus requirements*.txt
NPM_PLACEHOLDER_TEST = "no test specified"  # `npm init`'s "test" script, which always fails


@dataclass
class Detected:
    kind: str  # node | python | go | unknown
    evidence: list[str] = field(default_factory=list)  # the files that decided it
    commands: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)  # other kinds present, not used
    notes: list[str] = field(default_factory=list)  # written as comments above the [validate] lines

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Detection ---------------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _node(root: Path) -> Detected | None:
    if not (root / "package.json").is_file():
        return None
    found = Detected("node", ["package.json"])
    pkg = _read_json(root / "package.json")
    if pkg is None:
        found.notes.append("package.json could not be read as JSON: its scripts were not looked at")
        pkg = {}
    raw_scripts = pkg.get("scripts")
    scripts = {k: v for k, v in (raw_scripts if isinstance(raw_scripts, dict) else {}).items() if isinstance(v, str)}

    lockfiles = {"pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn", "package-lock.json": "npm", "npm-shrinkwrap.json": "npm"}
    lock = next((name for name in lockfiles if (root / name).is_file()), None)
    declared = str(pkg.get("packageManager") or "").split("@")[0]
    manager = lockfiles[lock] if lock else declared if declared in ("pnpm", "yarn") else "npm"
    if lock:
        found.evidence.append(lock)

    run = {"npm": "npm run -s", "pnpm": "pnpm run", "yarn": "yarn run"}[manager]
    tsc = {"npm": "npx tsc --noEmit", "pnpm": "pnpm exec tsc --noEmit", "yarn": "yarn tsc --noEmit"}[manager]
    typecheck = next((name for name in ("typecheck", "type-check") if name in scripts), None)
    if typecheck:
        found.commands.append(f"{run} {typecheck}")
    elif (root / "tsconfig.json").is_file():
        found.evidence.append("tsconfig.json")
        found.commands.append(tsc)
    if "test" in scripts and NPM_PLACEHOLDER_TEST not in scripts["test"]:
        found.commands.append(f"{manager} test")
    if not found.commands:
        found.notes.append("no typecheck or test script found in package.json: set commands, or `agent fix` refuses to run")

    if manager == "npm" and lock:
        found.setup = ["npm ci"]
    elif manager == "pnpm" and lock:
        found.setup = ["pnpm install --frozen-lockfile"]
    elif manager == "yarn" and lock:
        berry = (root / ".yarnrc.yml").is_file()
        found.setup = ["yarn install --immutable" if berry else "yarn install --frozen-lockfile"]
    elif pkg.get("dependencies") or pkg.get("devDependencies"):
        found.setup = [f"{manager} install"]
        found.notes.append("no lockfile: setup resolves dependencies afresh; commit a lockfile for repeatable validation")
    return found


def _mypy_configured(root: Path) -> bool:
    if (root / "mypy.ini").is_file() or (root / ".mypy.ini").is_file():
        return True
    try:
        pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        if isinstance(pyproject.get("tool"), dict) and "mypy" in pyproject["tool"]:
            return True
    except (OSError, ValueError):
        pass
    try:
        setup_cfg = (root / "setup.cfg").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^\[mypy(?:-[^\]]*)?\]", setup_cfg, re.M) is not None


def _python(root: Path) -> Detected | None:
    evidence = [name for name in PYTHON_MARKERS if (root / name).is_file()]
    evidence += sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    if not evidence:
        return None
    found = Detected("python", evidence, ["python -m pytest -q"])
    if _mypy_configured(root):
        found.commands.append("python -m mypy .")
    if (root / "uv.lock").is_file():
        found.evidence.append("uv.lock")
        # Dependencies only: the prepared .venv is copied into later attempt trees, where an editable install
        # of the project would still point at the first tree. The tree's own code is imported from the tree.
        found.setup = ["uv sync --frozen --no-install-project"]
        found.commands = [f"uv run --no-sync {c}" for c in found.commands]
    else:
        # No `pip install -e .`: it would install into whichever environment is on PATH (yours), pointing it
        # at a temporary attempt tree. Validation uses the Python on PATH with what it already has installed.
        found.notes.append("validation runs the Python on PATH with the packages it has; no setup installs into it")
    return found


def _go(root: Path) -> Detected | None:
    if not (root / "go.mod").is_file():
        return None
    return Detected("go", ["go.mod"], ["go vet ./...", "go test ./..."])


def detect_project(root: Path) -> Detected:
    """The project kind at `root` and the validation it implies.

    Several kinds may be present (a Python or Go service with a package.json for its front end is
    common; the reverse is rare), so the first of go, python, node is used and the rest are named.
    """
    found = [d for d in (_go(root), _python(root), _node(root)) if d is not None]
    if not found:
        return Detected("unknown")
    chosen = found[0]
    chosen.also = [d.kind for d in found[1:]]
    if chosen.also:
        chosen.notes.append(f"also found: {', '.join(f'{d.kind} ({d.evidence[0]})' for d in found[1:])}; add their commands if they matter")
    return chosen


# Rendering ---------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[")
_KEY_LINE = r"^(\s*{key}\s*=\s*)\[[^\]\n]*\](.*)$"
_HTTP_KIND = re.compile(r"""^\s*kind\s*=\s*["']http["']""")


def _toml_list(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)  # JSON strings of this shape are TOML basic strings


def _section(lines: list[str], name: str) -> tuple[int, int] | None:
    """(header index, end index exclusive) of `[name]`."""
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{name}]"), None)
    if start is None:
        return None
    end = next((j for j in range(start + 1, len(lines)) if _HEADER.match(lines[j]) and not lines[j].lstrip().startswith("#")), len(lines))
    return start, end


def _set_key(lines: list[str], span: tuple[int, int], key: str, value: str, *, comment: str = "", active: bool = True,
             after: int | None = None) -> int:
    """Set `key = value` in the section, keeping the line's own comment; absent, it goes after line `after`
    (default: the header). Returns the line's index."""
    start, end = span
    pattern = re.compile(_KEY_LINE.format(key=re.escape(key)))
    prefix = "" if active else "# "
    for i in range(start + 1, end):
        m = pattern.match(lines[i])
        if m:
            head, rest = f"{prefix}{m.group(1)}{value}", m.group(2) or ""
            if rest.strip().startswith("#"):  # keep the comment in its column when the value fits
                column = len(lines[i]) - len(rest.lstrip())
                rest = " " * max(column - len(head), 3) + rest.lstrip()
            lines[i] = head + rest
            return i
    tail = f"   # {comment}" if comment else ""
    at = (start if after is None else after) + 1
    lines.insert(at, f"{prefix}{key} = {value}{tail}")
    return at


def _comment_out_http_sources(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "[[sources]]":
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and not _HEADER.match(lines[j]):
            j += 1
        block = lines[i:j]
        if any(_HTTP_KIND.match(line) for line in block):
            out.append("# A health probe: uncomment it and set url to your application's health endpoint.")
            out.append("# `agent init` writes none, so there is no false P0 (endpoint down) before a URL is given.")
            out.extend(line if line.lstrip().startswith("#") else f"# {line}" for line in block)
        else:
            out.extend(block)
        i = j
    return out


def render_config(template: str, detected: Detected, *, setup_supported: bool) -> str:
    """The template with the detected validation and without an active health probe."""
    lines = _comment_out_http_sources(template.splitlines())
    span = _section(lines, "validate")
    if span is not None:
        if detected.kind == "unknown":
            notes = ["agent init detected no project kind (no package.json, pyproject.toml, setup.py, requirements*.txt "
                     "or go.mod): set commands to your typecheck and test commands"]
        else:
            at = _set_key(lines, span, "commands", _toml_list(detected.commands))
            span = _section(lines, "validate")
            assert span is not None
            _set_key(lines, span, "setup", _toml_list(detected.setup), active=setup_supported, after=at,
                     comment="prepare a tree once per lockfile hash" if setup_supported else "needs an agent-cli with [validate] setup")
            notes = [f"agent init detected a {detected.kind} project ({', '.join(detected.evidence)})", *detected.notes]
        lines[span[0] + 1:span[0] + 1] = [f"# {note}" for note in notes]
    text = "\n".join(lines)
    return text + "\n" if template.endswith("\n") else text


def _setup_supported() -> bool:
    from agent_cli.config import ValidateSection

    return "setup" in ValidateSection.model_fields


def init_project(config_path: Path, *, force: bool = False) -> dict[str, Any]:
    config_path = config_path.expanduser().absolute()
    existed = config_path.exists()
    if existed and not force:
        raise ConfigError(f"{config_path} already exists; pass --force to overwrite it")
    previous = config_path.read_bytes() if existed else None
    # The template's `repo = "."` is the directory holding the config file.
    detected = detect_project(config_path.parent)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(render_config(template_text(), detected, setup_supported=_setup_supported()), encoding="utf-8")
    try:
        settings = load_settings(config_path)
        with State.open(settings.state_path) as state:
            audit.record(state, step="init", decision="initialised", reason=f"config written to {config_path} (project kind: {detected.kind})",
                         details={"overwrote": existed, "kind": detected.kind, "evidence": detected.evidence,
                                  "commands": settings.validate_.commands, "setup": getattr(settings.validate_, "setup", [])})
    except AgentError:
        # Leave the user's files as they were.
        if previous is None:
            config_path.unlink(missing_ok=True)
        else:
            config_path.write_bytes(previous)
        raise
    return {
        "config": str(config_path),
        "state": str(settings.state_path),
        "overwrote": existed,
        "kind": detected.kind,
        "detected": {"kind": detected.kind, "evidence": detected.evidence, "also": detected.also,
                     "commands": list(settings.validate_.commands), "setup": list(getattr(settings.validate_, "setup", []))},
    }
