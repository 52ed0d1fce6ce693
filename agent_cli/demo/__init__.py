"""`agent demo`: the whole loop, offline, on the example shop (examples/demo-app/), in a temporary directory.

Scenario 1: a recent commit breaks orders without a coupon; users hit it; `agent run --level 3` cycles scan,
diagnose, fix, ship to staging, watch, promote to production and resolve it (the demo plays the on-call
engineer when a gate asks for a person). Scenario 2: a fix that passes the tests but breaks /health is
caught on staging and rolled back before production. Everything runs on 127.0.0.1; no API key needed
(with ANTHROPIC_API_KEY set, scenario 1 uses Claude; scenario 2 always uses a scripted model, since it
needs a fix that is wrong on purpose).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent_cli import clock
from agent_cli.errors import StepFailed

Say = Callable[[str], None]
MAX_CYCLES = 80
PAUSE_S = 0.5

USERS_BUG = '''def find_user(user_id: int) -> dict | None:
    user = USERS.get(user_id)
    return {**user, "greeting": "Hello " + user["name"].split()[0]}
'''
HEALTH_GOOD = '''def health() -> tuple[int, dict]:
    """What GET /health answers: 200 while the shop can serve."""
    return 200, {"status": "ok"}
'''
HEALTH_READINESS = '''MIN_CATALOGUE = 10  # readiness: a shop with fewer products has not finished loading


def health() -> tuple[int, dict]:
    """What GET /health answers: 200 once the catalogue is loaded, 503 before."""
    if len(PRICES) < MIN_CATALOGUE:
        return 503, {"status": "unavailable", "reason": "catalogue not loaded"}
    return 200, {"status": "ok"}
'''
REGRESSION_TEST = '''import shop


def test_unknown_user_is_none():
    assert shop.find_user(3) is None
'''


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_demo(say: Say, *, keep: Path | None = None) -> dict[str, Any]:
    from agent_cli.demo import setup

    base = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="agent-demo-"))
    if keep:
        base.mkdir(parents=True, exist_ok=True)
        if any(base.iterdir()):
            from agent_cli.errors import ConfigError

            raise ConfigError(f"--keep {base}: the directory must be empty")
    shop = setup.build(base)
    say(f"demo shop in {base} (staging on :{shop.ports['staging']}, production on :{shop.ports['production']})")
    summary: dict[str, Any] = {"directory": str(base), "kept": bool(keep)}
    try:
        with _environ({**shop.environ(), "XDG_CACHE_HOME": str(base / "cache")}):
            summary["scenario_1"] = _scenario_bug(shop, say)
            summary["scenario_2"] = _scenario_bad_fix(shop, say)
            summary["report"] = _report(shop, say)
    finally:
        shop.stop()
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    return summary


def _cycle(shop: Any, say: Say, n: int, seen: set[str]) -> dict[str, Any]:
    """One `agent run --level 3`, its actions told (each distinct line once: a waiting gate is not repeated every
    cycle); the demo then plays the on-call engineer for what waits on a person."""
    from agent_cli.approvals import decide, list_approvals
    from agent_cli.config import load_settings
    from agent_cli.pipeline import run_cycle
    from agent_cli.runner import locked_run

    settings = load_settings(shop.config)
    with locked_run(settings, "run") as run:
        cycle = run_cycle(run, level=3)
        for a in cycle.actions:
            if a["action"] in ("scanned",) and not a.get("events"):
                continue
            d = a.get("decision")
            why = f" [{d['verdict']}: {d['rule']}]" if d else ""
            extra = a.get("reason") or (d["reason"] if d else "")
            line = f"{a['step']:<9}" + (f" issue {a['issue']}" if a.get("issue") else "") + f": {a['action']}{why}" + (
                f": {str(extra)[:140]}" if extra else "")
            if a["step"] == "verify" and a["action"] == "monitoring":
                line = f"verify    issue {a.get('issue')}: sample taken, still watching"
            if line not in seen:
                seen.add(line)
                say(f"  cycle {n:>2} {line}")
        for failure in cycle.failures:
            say(f"  cycle {n:>2} FAILED: {failure}")
        for row in list_approvals(run.state):
            if row["gate"].startswith("deploy:"):
                say(f"  on-call reads approval {row['id']} ({row['gate']}): {row['reason'][:160]}")
                decide(run.state, row["id"], approve=True, by="demo-oncall", note="read the diff and the evidence", run_id=run.run_id)
                say(f"  on-call: `agent approve {row['id']}`")
        return {"actions": cycle.actions, "failures": cycle.failures}


def _issue(shop: Any, title_prefix: str) -> dict[str, Any] | None:
    """The newest issue whose title starts with `title_prefix` (in any case, as SQL's LIKE 'prefix%'): id, status, title, severity."""
    from agent_cli.config import load_settings
    from agent_cli.state import State
    from agent_cli.store import issues

    with State.open(load_settings(shop.config).state_path) as state:
        found = [r for r in issues.summaries(state) if r["title"].lower().startswith(title_prefix.lower())]
    newest = max(found, key=lambda r: r["id"], default=None)
    return None if newest is None else {k: newest[k] for k in ("id", "status", "title", "severity")}


def _scenario_bug(shop: Any, say: Say) -> dict[str, Any]:
    from agent_cli.demo import setup

    say("\nscenario 1: a recent commit breaks orders without a coupon")
    seen: set[str] = set()
    shop.deploy("production", "main")
    shop.deploy("staging", "staging")
    bug = (shop.root / "scenarios" / "bug_none.py").read_text()
    sha = shop.commit("shop: simplify apply_coupon", {"shop.py": bug})
    shop.push("main", "staging")
    shop.deploy("production", "main")
    shop.deploy("staging", "staging")
    say(f"  developer pushed {sha[:12]} 'shop: simplify apply_coupon' (its tests pass) and deployed it everywhere")
    say(f"  GET /orders/2/total on production: {setup.get(shop.url('production', '/orders/2/total'))}")
    shop.users("production", ["/orders/1/total", "/orders/2/total", "/users/1"])
    shop.users("staging", ["/orders/1/total", "/orders/2/total", "/users/1"])
    clock.current().sleep(0.5)
    for n in range(1, MAX_CYCLES + 1):
        _cycle(shop, say, n, seen)
        issue = _issue(shop, "AttributeError")
        if issue and issue["status"] == "resolved":
            status = setup.get(shop.url("production", "/orders/2/total"))
            say(f"  issue {issue['id']} resolved: GET /orders/2/total on production now answers {status}")
            return {"issue": issue, "cycles": n, "production_status": status}
        clock.current().sleep(PAUSE_S)
    raise StepFailed(f"demo scenario 1: the fix did not reach production in {MAX_CYCLES} cycles")


def _scenario_bad_fix(shop: Any, say: Say) -> dict[str, Any]:
    from agent_cli.demo import setup
    from agent_cli.demo.model import ScriptedModel

    say("\nscenario 2: a fix that passes the tests but breaks /health is stopped on staging")
    seen: set[str] = set()
    shop.pull()
    text = (shop.root / "shop.py").read_text()
    start = text.index("def find_user(")
    end = text.index("\ndef ", start + 1) + 1
    # Last week's commit, older than [fix] revert_max_age_h: a revert is no longer the answer, so the model writes the fix.
    last_week = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 5 * 86400))
    sha = shop.commit("users: greet users by first name", {"shop.py": text[:start] + USERS_BUG + "\n" + text[end:]}, date=last_week)
    shop.push("main", "staging")
    shop.deploy("production", "main")
    shop.deploy("staging", "staging")
    say(f"  a commit from last week ({sha[:12]} 'users: greet users by first name') meets its first unknown user: GET /users/3 answers "
        f"{setup.get(shop.url('production', '/users/3'))} instead of 404")
    for users in shop.traffic:
        users.paths = [*users.paths, "/users/3"]
    answers = {
        "report_diagnosis": {"root_cause": "find_user dereferences the result of USERS.get without checking for None",
                             "affected_files": ["shop.py"], "fix_strategy": "return None for an unknown user",
                             "confidence": 0.95, "requires_human_approval": False, "estimated_fix_minutes": 5},
        "propose_fix": {"summary": "guard unknown users; report readiness on /health", "confidence": 0.95, "edits": [
            {"path": "shop.py", "search": USERS_BUG.splitlines()[1] + "\n",
             "replace": USERS_BUG.splitlines()[1] + "\n    if user is None:\n        return None\n"},
            {"path": "shop.py", "search": HEALTH_GOOD, "replace": HEALTH_READINESS},
            {"path": "tests/test_users.py", "search": "", "replace": REGRESSION_TEST},
        ]},
    }
    with ScriptedModel(answers) as model, _environ({"ANTHROPIC_API_KEY": "demo-scripted-model", "AGENT_LLM__BASE_URL": model.base_url,
                                                    "AGENT_LLM__PROVIDER": "anthropic"}):
        say(f"  a scripted model on {model.base_url} stands in for Claude: its fix guards the lookup, adds a regression test, "
            "and also makes /health strict")
        for n in range(1, MAX_CYCLES + 1):
            _cycle(shop, say, n, seen)
            issue = _issue(shop, "TypeError")
            if issue and issue["status"] in ("rolled_back", "needs_human"):
                break
            clock.current().sleep(PAUSE_S)
        else:
            raise StepFailed(f"demo scenario 2: the bad fix was not rolled back in {MAX_CYCLES} cycles")
    health = setup.get(shop.url("staging", "/health"))
    main_has_it = "MIN_CATALOGUE" in setup.git(shop.origin, "show", "main:shop.py")
    say(f"  issue {issue['id']} {issue['status']}: staging /health answers {health} again; production "
        f"{'got the bad fix!' if main_has_it else 'never got it'}")
    return {"issue": issue, "cycles": n, "staging_health": health, "production_touched": main_has_it}


def _report(shop: Any, say: Say) -> dict[str, Any]:
    from agent_cli.config import load_settings
    from agent_cli.state import State

    settings = load_settings(shop.config)
    reports = sorted((settings.state_path.parent / "reports").glob("incident-*.md"))
    say("")
    from agent_cli.report import build_report, render

    with State.open(settings.state_path) as state:
        say(render(build_report(state, settings, "all"), "text"))
    for path in reports:
        say(f"incident report: {path.name}")
        say(path.read_text())
    return {"incidents": [p.name for p in reports]}
