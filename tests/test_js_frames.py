"""Node stacks end to end: pino's err.stack, the throw site as culprit, source maps back to src/*.ts, build output out.

The app is tests/fixtures/ts_app: src/*.ts committed in a git repository in tmp_path, its built dist/ (real tsc
and esbuild output from prebuilt/, see the fixture's README) gitignored but present, as on the host that runs
it. The stack positions below are the ones Node 20 printed running those files, with and without
--enable-source-maps; the last test compiles and runs the app for real when tsc and node are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_cli import sourcemap
from agent_cli.detect.events import Event, Frame, parse_block, throw_site_first
from agent_cli.detect.fingerprint import FINGERPRINT_VERSION, fingerprint, legacy_fingerprint
from tests.conftest import Project, git
from tests.sample_app import OLD_COMMIT_DATE

FIXTURE = Path(__file__).parent / "fixtures" / "ts_app"
PREBUILT = FIXTURE / "prebuilt"
TSC = FIXTURE / "node_modules" / ".bin" / "tsc"
NODE = shutil.which("node")
MESSAGE = "Cannot read properties of undefined (reading 'name')"
# getTeam before the bug: an unknown team had a name. The fixture's src/teams.ts is the commit that broke it.
TEAMS_BEFORE = (FIXTURE / "src" / "teams.ts").read_text().replace(
    "  const team = findTeam(id) as Team;\n",
    '  const team = findTeam(id);\n  if (!team) {\n    return { name: "unknown" };\n  }\n',
)
# (function, file, line, column) as Node printed them.
TSC_BUILT = [("getTeam", "dist/teams.js", 11, 25), ("handler", "dist/index.js", 6, 38), ("Object.<anonymous>", "dist/index.js", 12, 9)]
TSC_MAPPED = [("getTeam", "src/teams.ts", 14, 23), ("handler", "src/index.ts", 8, 23), ("Object.<anonymous>", "src/index.ts", 15, 5)]
ESBUILD_MIN_BUILT = [("o", "dist/index.js", 1, 565), ("m", "dist/index.js", 1, 623), ("Object.<anonymous>", "dist/index.js", 1, 668)]
NODE_FRAMES = [
    "    at Module._compile (node:internal/modules/cjs/loader:1521:14)",
    "    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)",
    "    at Module.load (node:internal/modules/cjs/loader:1266:32)",
    "    at Module._load (node:internal/modules/cjs/loader:1091:12)",
    "    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)",
    "    at node:internal/main/run_main_module:28:49",
]


def stack(frames: list[tuple[str, str, int, int]], root: str = "/srv/app") -> str:
    return "\n".join([f"TypeError: {MESSAGE}", *(f"    at {fn} ({root}/{file}:{line}:{col})" for fn, file, line, col in frames), *NODE_FRAMES])


def pino(stack_text: str) -> str:
    """One line as pino's err serializer writes it."""
    return json.dumps({"level": 50, "time": 1732000000000, "msg": "request failed",
                       "err": {"type": "TypeError", "message": MESSAGE, "stack": stack_text}}, separators=(",", ":"))


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    sourcemap.clear_caches()


@pytest.fixture
def ts_app(project: Project) -> dict:
    """src/*.ts with history (the bug is the last commit), dist/ and node_modules/ gitignored, logs configured."""
    root = project.root
    (root / ".gitignore").write_text("dist/\nnode_modules/\n")
    (root / "src").mkdir()
    shutil.copy(FIXTURE / "tsconfig.json", root / "tsconfig.json")
    shutil.copy(FIXTURE / "src" / "index.ts", root / "src" / "index.ts")
    (root / "src" / "teams.ts").write_text(TEAMS_BEFORE)
    git(root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", "teams endpoint"], cwd=root, check=True, env={**os.environ, **OLD_COMMIT_DATE})
    shutil.copy(FIXTURE / "src" / "teams.ts", root / "src" / "teams.ts")
    git(root, "commit", "-q", "-am", "simplify getTeam")
    (root / "logs").mkdir()
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    return {"root": root, "bad": git(root, "rev-parse", "HEAD")}


def build(root: Path, variant: str = "tsc") -> None:
    shutil.rmtree(root / "dist", ignore_errors=True)
    shutil.copytree(PREBUILT / variant, root / "dist")


def log(root: Path, *lines: str) -> None:
    with open(root / "logs" / "app.log", "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def scan(project: Project) -> dict:
    result = project.cli("--json", "scan")
    assert result.exit_code == 0, result.stderr
    return result.json()


# ---------------------------------------------------------------- parsing and order


def test_pino_err_stack_gives_frames_type_and_message() -> None:
    line = ('{"level":50,"time":1732000000000,"msg":"request failed","err":{"type":"TypeError","message":"Cannot read properties '
            'of undefined (reading \'name\')","stack":"TypeError: Cannot read properties of undefined (reading \'name\')\\n    '
            'at getTeam (/srv/app/dist/index.js:259:23)\\n    at handler (/srv/app/dist/index.js:301:10)\\n    '
            'at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/layer.js:95:5)\\n    '
            'at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"}}')
    event = parse_block(line, source="app")
    assert (event.level, event.message, event.exception_type, event.exception_message) == ("error", "request failed", "TypeError", MESSAGE)
    assert [(f.function, f.file, f.line, f.column, f.in_app, f.lang) for f in event.frames] == [
        ("getTeam", "/srv/app/dist/index.js", 259, 23, True, "js"),
        ("handler", "/srv/app/dist/index.js", 301, 10, True, "js"),
        ("Layer.handle [as handle_request]", "/srv/app/node_modules/express/lib/router/layer.js", 95, 5, False, "js"),
        ("process.processTicksAndRejections", "node:internal/process/task_queues", 95, 5, False, "js"),
    ]
    # The title names the error, not the log call's msg.
    assert fingerprint(event)[1] == "Cannot read properties of undefined (reading <str>)"


def test_the_throw_site_comes_first_for_node_and_last_for_python() -> None:
    js = parse_block(stack(TSC_MAPPED), source="app")
    assert throw_site_first(js.frames)[0].function == "getTeam"
    py = parse_block('Traceback (most recent call last):\n  File "/app/app/views.py", line 6, in get_item\n    x\n'
                     '  File "/app/app/repo.py", line 7, in find\n    y\nKeyError: 1', source="app")
    assert [f.function for f in throw_site_first(py.frames)] == ["find", "get_item"]
    # Frames stored before frames had a language read as they were printed.
    assert Frame.from_dict({"file": "/srv/app/src/a.js", "line": 1, "function": "f", "in_app": True}).lang == "js"
    assert Frame.from_dict({"file": "/app/a.py", "line": 1, "function": "f", "in_app": True}).lang == "python"


def test_python_java_and_message_fingerprints_did_not_move() -> None:
    """Digests computed by fingerprint version 1: existing issues keep matching (a message's through its legacy fingerprint)."""
    assert FINGERPRINT_VERSION == 3
    cases = {
        'x ERROR app.views: request failed\nTraceback (most recent call last):\n  File "/app/app/views.py", line 6, in get_item\n'
        '    return item.name\n  File "/app/app/repo.py", line 7, in find\n    return self.rows[key].name\n'
        "AttributeError: 'NoneType' object has no attribute 'name'": "baed6b40468a9024",
        '{"level":"error","message":"boom","exc_info":"Traceback (most recent call last):\\n  File \\"/app/app/views.py\\", '
        'line 6, in get_item\\n    return 1\\nValueError: x"}': "03e6de45a3c2e747",
        '{"level":50,"msg":"request failed","err":{"type":"TypeError","message":"Cannot read x"}}': "c4e0557b54fe9912",
        "2026 SEVERE x - order failed\njava.lang.IllegalStateException: no stock\n\tat com.shop.Orders.place(Orders.java:42)\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:833)": "effaa1fdee0ed479",
        "2026-11-21 10:00:01 ERROR payment failed for user 42": "6157fe0acacbeca5",
        # A Node trace without maps or build output (and at most eight in-app frames) did not move either.
        "TypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/srv/web/src/users.js:12:5)\n"
        "    at processTicksAndRejections (node:internal/process/task_queues:95:5)": "18ac2dc40614dc1e",
    }
    for text, digest in cases.items():
        event = parse_block(text, source="app")
        assert (legacy_fingerprint(event) or fingerprint(event)[0]) == digest, text
        assert legacy_fingerprint(event) is None or "ERROR payment failed" in text  # only the message event moved in v3


def test_node_fingerprint_keys_on_the_innermost_frames() -> None:
    """Twelve in-app frames: the eight nearest the throw site count, so a different entry point is the same bug."""
    def trace(entry: str) -> Event:
        frames = [(f"f{i}", f"src/m{i}.js", i + 1, 1) for i in range(11)] + [(entry, "src/main.js", 1, 1)]
        return parse_block(stack(frames), source="app")
    assert fingerprint(trace("cronMain"))[0] == fingerprint(trace("httpMain"))[0]


def test_suspects_look_up_the_bare_function_name() -> None:
    """`git log -L :name:file` needs the name alone, not V8's decorations."""
    from agent_cli.diagnose.suspects import _function_name

    assert _function_name("async TeamService.getTeam [as get]") == "getTeam"
    assert _function_name("new Router") == "Router"
    assert _function_name("get_item") == "get_item"
    assert _function_name("Object.<anonymous>") is None


# ---------------------------------------------------------------- source maps and grouping


def test_built_trace_and_enable_source_maps_trace_share_a_fingerprint(ts_app: dict) -> None:
    root = ts_app["root"]
    build(root, "tsc")
    built, mapped = parse_block(pino(stack(TSC_BUILT)), source="app"), parse_block(pino(stack(TSC_MAPPED)), source="app")
    assert fingerprint(built, repo=root)[0] == fingerprint(mapped, repo=root)[0]
    # The built frames now read as Node prints them with --enable-source-maps, and remember where they were.
    assert [(f.function, f.file, f.line, f.column) for f in built.frames] == [(f.function, f.file, f.line, f.column) for f in mapped.frames]
    assert built.frames[0].mapped_from == "dist/teams.js:11:25" and built.frames[0].in_app
    # A minified esbuild bundle of the same code (V8 calls getTeam "o") is the same bug too.
    build(root, "esbuild-min")
    sourcemap.clear_caches()
    minified = parse_block(pino(stack(ESBUILD_MIN_BUILT)), source="app")
    assert fingerprint(minified, repo=root)[0] == fingerprint(mapped, repo=root)[0]
    assert minified.frames[0].function == "getTeam" and minified.frames[0].file == "/srv/app/src/teams.ts"


def test_built_and_mapped_traces_are_one_issue_and_diagnosis_names_the_ts_line(project: Project, ts_app: dict) -> None:
    root = ts_app["root"]
    build(root, "tsc")
    log(root, pino(stack(TSC_BUILT)))
    first = scan(project)
    (issue,) = first["new_issues"]
    log(root, pino(stack(TSC_MAPPED)))  # the service restarted with node --enable-source-maps
    second = scan(project)
    assert second["new_issues"] == [] and [i["id"] for i in second["updated_issues"]] == [issue["id"]]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert shown["count"] == 2 and shown["title"] == "TypeError: Cannot read properties of undefined (reading <str>)"
    assert shown["auto_fixable"] is True
    stored = shown["events"][-1]["frames"]  # the built trace, stored as its original source
    assert stored[0]["file"] == "/srv/app/src/teams.ts" and stored[0]["mapped_from"] == "dist/teams.js:11:25"

    result = project.cli("--json", "diagnose")
    assert result.exit_code == 0, result.stderr
    (d,) = result.json()["diagnosed"]
    # The throw site, not its caller (handler) or the module top level; the .ts line, not dist/teams.js:11.
    # (The sample is the newest event, the --enable-source-maps one, so it carries no `mapped_from`.)
    assert d["culprit"] == {"path": "src/teams.ts", "line": 14, "function": "getTeam", "code": "return { name: team.name.toUpperCase() };"}
    assert d["suspect_commit"]["sha"] == ts_app["bad"] and d["suspect_commit"]["subject"] == "simplify getTeam"
    assert d["suspect_commit"]["changed_culprit_function"] is True  # git log -L :getTeam:src/teams.ts
    assert "undefined" in d["root_cause"] and "src/teams.ts:14" in d["root_cause"]
    assert d["affected_files"] == ["src/teams.ts"]
    context = project.cli("--json", "show", str(issue["id"])).json()["diagnoses"][0]
    assert context["culprit"]["path"] == "src/teams.ts"


def test_diagnosis_of_a_minified_bundle_names_the_ts_line(project: Project, ts_app: dict) -> None:
    root = ts_app["root"]
    build(root, "esbuild-min")
    log(root, pino(stack(ESBUILD_MIN_BUILT)))
    scan(project)
    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert d["culprit"] == {"path": "src/teams.ts", "line": 13, "function": "getTeam", "code": "const team = findTeam(id) as Team;",
                            "mapped_from": "dist/index.js:1:565"}
    assert d["suspect_commit"]["sha"] == ts_app["bad"] and d["suspect_commit"]["touched_culprit_line"] is True
    assert "dist/index.js:1:565" in d["root_cause"]


def test_diagnosis_maps_frames_that_were_stored_as_printed(project: Project, ts_app: dict, tmp_path: Path) -> None:
    """A log outside the checkout (/var/log/...): whatever scan stored, diagnosis reads the frames through the maps."""
    root = ts_app["root"]
    build(root, "tsc")
    varlog = tmp_path / "varlog"
    varlog.mkdir()
    (varlog / "app.log").write_text(pino(stack(TSC_BUILT)) + "\n")
    project.config.write_text(f'[[sources]]\nname = "app"\nkind = "file"\npaths = ["{varlog}/*.log"]\n')
    scan(project)
    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert (d["culprit"]["path"], d["culprit"]["line"], d["culprit"]["mapped_from"]) == ("src/teams.ts", 14, "dist/teams.js:11:25")
    assert d["suspect_commit"]["sha"] == ts_app["bad"]


def test_gitignored_build_output_without_maps_is_not_in_app_nor_fixable(project: Project, ts_app: dict) -> None:
    root = ts_app["root"]
    build(root, "tsc")
    for js in (root / "dist").glob("*.js.map"):
        js.unlink()
    log(root, pino(stack(TSC_BUILT)))
    (issue,) = scan(project)["new_issues"]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    frames = shown["events"][0]["frames"]
    assert [f["in_app"] for f in frames[:3]] == [False, False, False]
    assert frames[0]["excluded"] == "gitignored build output (dist/teams.js, no source map for line 11)"
    assert shown["auto_fixable"] is False and shown["auto_fixable_reason"]
    assert "dist/" not in (shown.get("culprit") or "")

    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert d["culprit"] == {} and d["requires_human_approval"] is True
    assert "gitignored build output (dist/teams.js, no source map for line 11)" in d["root_cause"]
    assert d["confidence"] <= 0.3 and "source" in d["fix_strategy"]


def test_scan_records_the_throw_site_and_the_build_output_reason(project: Project, ts_app: dict) -> None:
    root = ts_app["root"]
    build(root, "tsc")
    log(root, pino(stack(TSC_BUILT)))
    (issue,) = scan(project)["new_issues"]
    shown = project.cli("--json", "show", str(issue["id"])).json()
    assert shown["culprit"] == "src/teams.ts:14"
    for js in (root / "dist").glob("*.js.map"):
        js.unlink()
    sourcemap.clear_caches()
    log(root, pino(stack(TSC_BUILT).replace("TypeError: ", "RangeError: ")).replace('"TypeError"', '"RangeError"'))
    (other,) = scan(project)["new_issues"]
    reason = project.cli("--json", "show", str(other["id"])).json()["auto_fixable_reason"]
    assert "gitignored build output (dist/teams.js" in reason


@pytest.mark.skipif(not TSC.exists() or NODE is None,
                    reason="needs node and tests/fixtures/ts_app/node_modules/.bin/tsc (npm ci --prefix tests/fixtures/ts_app)")
def test_real_tsc_build_and_real_node_traces(project: Project, ts_app: dict) -> None:
    """Compile with tsc, run the service with node twice (plain and --enable-source-maps), scan what it logged."""
    root = ts_app["root"]
    subprocess.run([str(TSC), "-p", str(root)], check=True, timeout=300, capture_output=True)
    assert (root / "dist" / "teams.js.map").exists()
    assert git(root, "check-ignore", "dist/teams.js", "dist/teams.js.map") == "dist/teams.js\ndist/teams.js.map"
    for flags in ([], ["--enable-source-maps"]):
        out = subprocess.run([NODE, *flags, "dist/index.js", "t404"], cwd=root, capture_output=True, text=True, timeout=60, check=True)
        log(root, out.stdout.strip())
    data = scan(project)
    assert data["events"] == 2 and len(data["new_issues"]) == 1
    (d,) = project.cli("--json", "diagnose").json()["diagnosed"]
    assert (d["culprit"]["path"], d["culprit"]["line"], d["culprit"]["function"]) == ("src/teams.ts", 14, "getTeam")
    assert d["suspect_commit"]["sha"] == ts_app["bad"]
