"""Failure identifiers read from tool output (agent_cli.fix.failures).

Real tools run here on tiny failing projects: pytest, unittest, mypy, ruff, `node --test`
(TAP and spec) and `go test` where go is installed. tsc, ESLint, Jest, Vitest, Mocha and
pyright are not installed on the test machine: their output comes from
tests/fixtures/tool_output/ (captured from real runs, or written from documented
formats; its README says which). The same identifiers must come out when an unrelated
blank line shifts every line, when the tree is another directory, and with colours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from agent_cli.fix.failures import TAIL_CHARS, failure_text, failures_in, first_failing_lines
from agent_cli.fix.validate import CommandResult, blocking

FIXTURES = Path(__file__).parent / "fixtures" / "tool_output"
WORKTREE = "/tmp/wt/home/dev/.cache/agent-cli/worktrees/app-1a2b3c4d5e/fix-3-1/"


def _write(root: Path, files: dict[str, str], *, shift: bool = False) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # shift: one unrelated blank line on top of every source file moves every line number
        path.write_text("\n" + text if shift and not name.endswith((".json", ".ini", ".mod")) else text)
    return root


def _run(argv: list[str], cwd: Path, **env: str) -> str:
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, **env}, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0, proc.stdout  # every project here fails
    return proc.stdout


def _sample(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- real tools ------------------------------------------------------------------------------------------

PYTEST_PROJECT = {
    "pytest.ini": "[pytest]\npythonpath = .\n",
    "app/__init__.py": "",
    "app/teams.py": "def get_team(teams, team_id):\n    return teams[team_id]\n",
    "tests/test_views.py": '''import pytest

from app.teams import get_team

TEAMS = {1: "core"}


def test_found():
    assert get_team(TEAMS, 1) == "core"


def test_missing():
    assert get_team(TEAMS, 2) is None


class TestViews:
    def test_title(self):
        assert "core".title() == "CORE"


@pytest.mark.parametrize("name", ["core", "web app"])
def test_names(name):
    assert " " not in name


@pytest.fixture
def db():
    raise RuntimeError("no database")


def test_with_db(db):
    pass
''',
    "tests/test_broken.py": "import not_a_module\n",
}
PYTEST_IDS = [
    "pytest: tests/test_broken.py",
    "pytest: tests/test_views.py::TestViews::test_title",
    "pytest: tests/test_views.py::test_missing",
    "pytest: tests/test_views.py::test_names[web app]",
    "pytest: tests/test_views.py::test_with_db",
]


def _pytest(root: Path, *args: str) -> str:
    return _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--continue-on-collection-errors", *args], root)


def test_pytest_real_output(tmp_path: Path) -> None:
    tree = _write(tmp_path / "a", PYTEST_PROJECT)
    out = _pytest(tree)
    assert failures_in(out) == PYTEST_IDS
    assert failures_in(_pytest(tree, "-v")) == PYTEST_IDS
    coloured = _pytest(tree, "--color=yes")
    assert "\x1b[" in coloured and failures_in(coloured) == PYTEST_IDS
    # no short summary at all: the sections' titles and first frames give the same identifiers
    assert failures_in(_pytest(tree, "-rN")) == PYTEST_IDS
    # an unrelated blank line moves every line; the same project elsewhere has other absolute paths
    assert failures_in(_pytest(_write(tmp_path / "b", PYTEST_PROJECT, shift=True))) == PYTEST_IDS

    text = failure_text(out, "pytest: tests/test_views.py::test_missing")
    assert "KeyError" in text and "get_team" in text and "app/teams.py" in text and "test_title" not in text
    assert "no database" in failure_text(out, "pytest: tests/test_views.py::test_with_db")
    assert "not_a_module" in failure_text(out, "pytest: tests/test_broken.py")
    first = first_failing_lines(out)
    assert first[0].startswith("FAILED tests/test_views.py::test_missing - KeyError")
    assert len(first) == 5 and first_failing_lines(out, limit=2) == first[:2]


def test_unittest_real_output(tmp_path: Path) -> None:
    files = {"test_models.py": '''import unittest


class TeamTest(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1, 1)

    def test_missing(self):
        self.assertIsNone({}.get("a", 1))

    def test_crash(self):
        raise ValueError("bad team")
'''}
    ids = ["unittest: test_models.TeamTest.test_crash", "unittest: test_models.TeamTest.test_missing"]
    argv = [sys.executable, "-m", "unittest", "discover", "-s", ".", "-p", "test_*.py"]
    out = _run(argv, _write(tmp_path / "a", files))
    assert failures_in(out) == ids
    assert failures_in(_run(argv, _write(tmp_path / "b", files, shift=True))) == ids
    assert "bad team" in failure_text(out, ids[0]) and "test_missing" not in failure_text(out, ids[0])


MYPY_PROJECT = {
    "app/__init__.py": "",
    "app/teams.py": '''from typing import Optional


def get_team(teams: dict[int, str], team_id: int) -> Optional[str]:
    return teams.get(team_id)


def title(team_id: int) -> str:
    return get_team({}, team_id).title()


def count() -> int:
    return "3"


def count() -> int:
    return 3
''',
}
MYPY_IDS = [
    'mypy: app/teams.py: Incompatible return value type (got "str", expected "int") [return-value]',
    'mypy: app/teams.py: Item "None" of "str | None" has no attribute "title" [union-attr]',
    'mypy: app/teams.py: Name "count" already defined on line N [no-redef]',
]


@pytest.mark.skipif(find_spec("mypy") is None, reason="mypy is not installed (pip install -e '.[test]')")
def test_mypy_real_output(tmp_path: Path) -> None:
    def mypy(tree: Path, *args: str, **env: str) -> str:
        return _run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *args, "app"], tree, **env)

    tree = _write(tmp_path / "a", MYPY_PROJECT)
    out = mypy(tree)
    assert failures_in(out) == MYPY_IDS
    # --pretty wraps long messages onto the next line; positions with ends add more numbers
    pretty = mypy(tree, "--pretty", "--show-column-numbers", "--show-error-end", "--color-output",
                  MYPY_FORCE_COLOR="1", TERM="xterm-256color")
    assert "\x1b" in pretty and failures_in(pretty) == MYPY_IDS
    assert failures_in(mypy(_write(tmp_path / "b", MYPY_PROJECT, shift=True))) == MYPY_IDS
    assert "get_team({}, team_id).title()" in failure_text(pretty, MYPY_IDS[1])
    assert first_failing_lines(out)[0].startswith("app/teams.py:") and "error:" in first_failing_lines(out)[0]


RUFF_PROJECT = {"app/views.py": "import os\nimport json\n\n\ndef view(request):\n    unused = 1\n    return json.dumps(request)\n"}
RUFF_IDS = [
    "ruff: app/views.py: F401 `os` imported but unused",
    "ruff: app/views.py: F841 Local variable `unused` is assigned to but never used",
]


@pytest.mark.skipif(find_spec("ruff") is None, reason="ruff is not installed (pip install -e '.[test]')")
def test_ruff_real_output(tmp_path: Path) -> None:
    def ruff(tree: Path, *args: str) -> str:
        return _run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "F", *args, "app"], tree)

    tree = _write(tmp_path / "a", RUFF_PROJECT)
    for output_format in ("full", "concise", "grouped", "pylint"):
        assert failures_in(ruff(tree, "--output-format", output_format)) == RUFF_IDS, output_format
    coloured = ruff(tree, "--output-format", "full", "--color", "always")
    assert "\x1b[" in coloured and failures_in(coloured) == RUFF_IDS
    assert failures_in(ruff(_write(tmp_path / "b", RUFF_PROJECT, shift=True))) == RUFF_IDS
    assert "import os" in failure_text(ruff(tree, "--output-format", "full"), RUFF_IDS[0])

    (tree / "app" / "ugly.py").write_text("x = {  'a':1 }\n")
    check = _run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "--isolated", "app/ugly.py"], tree)
    assert [f for f in failures_in(check) if "app/ugly.py" in f and "reformat" in f]


NODE_PROJECT = {
    "package.json": '{"type": "commonjs"}\n',
    "test/teams.test.js": """const test = require('node:test');
const assert = require('node:assert');

test.describe('getTeam', () => {
  test.it('returns the team', () => {
    assert.strictEqual(1, 1);
  });
  test.it('returns 404', () => {
    assert.strictEqual(200, 404);
  });
  test.describe('nested', () => {
    test.it('deep fails', () => { throw new TypeError('boom'); });
  });
});

test('top level fails', () => {
  assert.ok(false, 'nope');
});
""",
    "test/broken.test.js": "syntax error(\n",
    "test/other.test.js": "require('node:test')('other ok', () => {});\n",
}
NODE_TAP_IDS = [
    "node:test: test/broken.test.js",
    "node:test: test/teams.test.js > getTeam > nested > deep fails",
    "node:test: test/teams.test.js > getTeam > returns 404",
    "node:test: test/teams.test.js > top level fails",
]
NODE_SPEC_IDS = [  # the spec reporter's summary names a test without its suites
    "node:test: test/broken.test.js",
    "node:test: test/teams.test.js > deep fails",
    "node:test: test/teams.test.js > returns 404",
    "node:test: test/teams.test.js > top level fails",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_test_real_output(tmp_path: Path) -> None:
    def node(tree: Path, reporter: str, **env: str) -> str:
        return _run(["node", "--test", f"--test-reporter={reporter}"], tree, **env)

    tree = _write(tmp_path / "a", NODE_PROJECT)
    tap = node(tree, "tap")
    assert "location: '" + str(tree) in tap  # TAP names files by absolute path: `root` strips it
    assert failures_in(tap, root=str(tree)) == NODE_TAP_IDS
    assert failures_in(node(tree, "spec"), root=str(tree)) == NODE_SPEC_IDS
    coloured = node(tree, "spec", FORCE_COLOR="1")
    assert "\x1b[" in coloured and failures_in(coloured, root=str(tree)) == NODE_SPEC_IDS
    moved = _write(tmp_path / "b", NODE_PROJECT, shift=True)
    assert failures_in(node(moved, "tap"), root=str(moved)) == NODE_TAP_IDS

    # attempt worktrees need no root: their `/fix-<n>-<n>/` or `/dry-<n>-<hex>/` segment marks where the repo starts
    trees = tmp_path / "home" / ".cache" / "agent-cli" / "worktrees" / "app-1a2b3c4d5e"
    first = _write(trees / "fix-3-1", NODE_PROJECT)
    second = _write(trees / "dry-3-0a1b2c3d", NODE_PROJECT, shift=True)
    assert failures_in(node(first, "tap")) == failures_in(node(second, "tap")) == NODE_TAP_IDS
    assert failures_in(node(first, "spec")) == failures_in(node(second, "spec")) == NODE_SPEC_IDS

    # a cut start lost `# Subtest: getTeam`: the suite's own result line, after its tests, still names it
    cut = tap[tap.index("    # Subtest: returns 404"):]
    assert failures_in(cut, root=str(tree)) == [i for i in NODE_TAP_IDS if "getTeam" in i or "top level" in i]

    assert "boom" in failure_text(tap, NODE_TAP_IDS[1], root=str(tree))
    assert "200 !== 404" in failure_text(tap, NODE_TAP_IDS[2], root=str(tree))
    assert "not ok" in first_failing_lines(tap)[0]


GO_PROJECT = {
    "go.mod": "module example.com/app\n\ngo 1.19\n",
    "teams/teams.go": "package teams\n\nfunc Get(id int) int { return id * 2 }\n",
    "teams/teams_test.go": """package teams

import "testing"

func TestGet(t *testing.T) {
	if Get(2) != 5 {
		t.Errorf("Get(2) = %d, want 5", Get(2))
	}
}

func TestTable(t *testing.T) {
	for _, name := range []string{"ok case", "bad case"} {
		t.Run(name, func(t *testing.T) {
			if name == "bad case" {
				t.Fatal("bad")
			}
		})
	}
}

func TestFine(t *testing.T) {}
""",
    "broken/b.go": "package broken\n\nfunc X() int { return undefinedThing }\n",
    "broken/b_test.go": 'package broken\n\nimport "testing"\n\nfunc TestX(t *testing.T) { X() }\n',
}
GO_IDS = [
    "go: broken/b.go: undefined: undefinedThing",
    "go: example.com/app/broken [build failed]",
    "go: example.com/app/teams",
    "go: example.com/app/teams TestGet",
    "go: example.com/app/teams TestTable",
    "go: example.com/app/teams TestTable/bad_case",
]


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_test_real_output(tmp_path: Path) -> None:
    env = {"GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GO111MODULE": "on",
           "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath")}
    tree = _write(tmp_path / "a", GO_PROJECT)
    out = _run(["go", "test", "./..."], tree, **env)
    assert failures_in(out) == GO_IDS
    assert failures_in(_run(["go", "test", "-v", "./..."], tree, **env)) == GO_IDS
    assert failures_in(_run(["go", "test", "./..."], _write(tmp_path / "b", GO_PROJECT, shift=True), **env)) == GO_IDS
    assert "Get(2) = 4, want 5" in failure_text(out, "go: example.com/app/teams TestGet")


# --- captured and documented samples ---------------------------------------------------------------------

ESLINT_IDS = [
    "eslint: lib/app.js: 'addOne' is defined but never used (no-unused-vars)",
    "eslint: lib/app.js: 'undefinedThing' is not defined (no-undef)",
    "eslint: lib/app.js: Expected '!==' and instead saw '!=' (eqeqeq)",
    "eslint: lib/app.js: Use the isNaN function to compare with NaN (use-isnan)",
    "eslint: lib/bad.js: Parsing error: Unexpected token ;",
]
TSC_IDS = [
    "tsc: src/other.ts: TS2307: Cannot find module './nowhere' or its corresponding type declarations.",
    "tsc: src/teams.ts: TS2322: Type 'string | undefined' is not assignable to type 'string'.",
    "tsc: src/teams.ts: TS2322: Type 'string' is not assignable to type 'number'.",
    "tsc: src/teams.ts: TS2532: Object is possibly 'undefined'.",
]
SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    # tool: (samples that must all give these identifiers, the identifiers)
    "tsc": (["tsc.txt", "tsc_moved.txt"], sorted(TSC_IDS + ["tsc: TS5023: Unknown compiler option '--badoption'."])),
    "tsc --pretty": (["tsc_pretty_ansi.txt", "tsc_pretty_ansi_moved.txt"], TSC_IDS),
    "eslint": (["eslint_stylish.txt", "eslint_stylish_moved.txt", "eslint_stylish_ansi.txt", "eslint_stylish_ansi_moved.txt",
                "eslint_unix.txt", "eslint_unix_moved.txt", "eslint_compact.txt", "eslint_compact_moved.txt"], ESLINT_IDS),
    "jest": (["jest.txt", "jest_moved.txt", "jest_ansi.txt", "jest_ansi_moved.txt", "jest_summary.txt"], [
        "jest: jt/broken.test.js > Test suite failed to run",
        "jest: jt/teams.test.js > getTeam › nested › deep fails",
        "jest: jt/teams.test.js > getTeam › returns 404",
        "jest: jt/teams.test.js > top level",
    ]),
    "vitest": (["vitest.txt", "vitest_moved.txt", "vitest_ansi.txt", "vitest_ansi_moved.txt"], [
        "vitest: vt/broken.test.ts",
        "vitest: vt/teams.test.ts > getTeam > nested > deep fails",
        "vitest: vt/teams.test.ts > getTeam > returns 404",
        "vitest: vt/teams.test.ts > top level",
    ]),
    "vitest killed before its summary": (["vitest3_killed.txt"], [
        "vitest: src/teams.test.ts > getTeam > returns 404",
        "vitest: src/teams.test.ts > listTeams > is sorted",
    ]),
    "mocha": (["mocha.txt", "mocha_moved.txt", "mocha_ansi.txt", "mocha_ansi_moved.txt"], [
        "mocha: getTeam > nested > deep fails",
        "mocha: getTeam > returns 404",
        'mocha: getTeam > with hook > "before each" hook for "never runs"',
        "mocha: top level fails",
    ]),
    "mocha, one-line titles": (["mocha_one_line.txt"], ["mocha: AuthController isAuthorized Should return false if not authorized"]),
    "pyright": (["pyright.txt", "pyright_moved.txt", "pyright_ansi.txt", "pyright_ansi_moved.txt"], [
        'pyright: app/p.py: Cannot access attribute "foo" for class "Bar" (reportAttributeAccessIssue)',
        'pyright: app/p.py: Type "Literal[1]" is not assignable to return type "str" (reportReturnType)',
    ]),
    "go": (["go_test.txt", "go_test_moved.txt", "go_test_v.txt"], GO_IDS),
    "node spec, no summary": (["node_spec_tree.txt"], [
        "node:test: getTeam > nested > deep fails",
        "node:test: getTeam > returns 404",
        "node:test: top level fails",
    ]),
}


@pytest.mark.parametrize("tool", sorted(SAMPLES))
def test_samples(tool: str) -> None:
    names, ids = SAMPLES[tool]
    for name in names:
        text = _sample(name)
        assert failures_in(text) == ids, name
        # another worktree kind, and a tree anywhere else given as `root` (with a space in its path too)
        assert failures_in(text.replace("/fix-3-1/", "/dry-3-0a1b2c3d/")) == ids, name
        for root in ("/srv/app", "/srv/my app"):
            assert failures_in(text.replace(WORKTREE, root + "/"), root=root) == ids, (name, root)


def test_samples_from_documentation() -> None:
    # pyright before it put the path on each line: the file is the header above; warnings don't fail
    assert failures_in(_sample("pyright_old.txt"), root="/home/dev/app") == [
        'pyright: app/foo.py: Cannot access member "name" for type "None" (reportOptionalMemberAccess)',
        'pyright: app/foo.py: Import "requests" could not be resolved (reportMissingImports)',
    ]
    # ESLint's own example: a header path with a space; only errors count
    assert failures_in(_sample("eslint_stylish_docs.txt"), root="/var/lib/jenkins/workspace/eslint Release/eslint") == [
        "eslint: fullOfProblems.js: 'addOne' is defined but never used (no-unused-vars)",
        "eslint: fullOfProblems.js: Function 'addOne' expected a return value (consistent-return)",
        "eslint: fullOfProblems.js: Unexpected space before unary operator '++' (space-unary-ops)",
        "eslint: fullOfProblems.js: Use the isNaN function to compare with NaN (use-isnan)",
    ]


def test_eslint_warnings_count_only_when_they_fail_the_command() -> None:
    text = _sample("eslint_stylish.txt")
    assert not [f for f in failures_in(text) if "(semi)" in f]
    strict = failures_in(text + "ESLint found too many warnings (maximum: 0).\n")
    assert "eslint: lib/app.js: Missing semicolon (semi)" in strict


def test_failure_text_isolates_one_failure() -> None:
    jest = _sample("jest.txt")
    text = failure_text(jest, "jest: jt/teams.test.js > getTeam › returns 404")
    assert "Cannot read properties of undefined" in text and "Expected: 3" not in text
    assert "Cannot find module './does-not-exist'" in failure_text(jest, "jest: jt/broken.test.js > Test suite failed to run")
    vitest = failure_text(_sample("vitest_ansi.txt"), "vitest: vt/teams.test.ts > getTeam > nested > deep fails")
    assert "expected 2 to be 3" in vitest and "reading 'id'" not in vitest and "\x1b" not in vitest
    mocha = failure_text(_sample("mocha.txt"), 'mocha: getTeam > with hook > "before each" hook for "never runs"')
    assert "hook boom" in mocha and "nope" not in mocha
    tsc = failure_text(_sample("tsc.txt"), TSC_IDS[1])
    assert tsc.startswith("src/teams.ts(9,3)") and "Type 'undefined' is not assignable" in tsc and "TS2532" not in tsc
    assert "~~~" in failure_text(_sample("tsc_pretty_ansi.txt"), TSC_IDS[3])  # --pretty's excerpt comes along
    pyright = failure_text(_sample("pyright.txt"), SAMPLES["pyright"][1][0])
    assert 'Attribute "foo" is unknown' in pyright and "Literal" not in pyright
    assert failure_text(jest, "jest: jt/teams.test.js > no such test") == ""
    assert failure_text("", "pytest: x.py::t") == ""


def test_first_failing_lines() -> None:
    lines = first_failing_lines(_sample("vitest_ansi.txt"))
    assert lines[:2] == ["FAIL  vt/broken.test.ts [ vt/broken.test.ts ]",
                         "Error: Cannot find module './does-not-exist' imported from vt/broken.test.ts"]
    assert len(first_failing_lines(_sample("jest_summary.txt"), limit=3)) == 3
    stylish = first_failing_lines(_sample("eslint_stylish.txt"))
    assert stylish[0] == "lib/app.js:1:10: error: 'addOne' is defined but never used (no-unused-vars)"
    mocha = first_failing_lines(_sample("mocha.txt"))
    assert mocha[1] == "2) getTeam > returns 404: TypeError: Cannot read properties of undefined (reading 'id')"
    # nothing a parser knows: the lines that say error or failed, else the last lines
    make = "make[1]: Entering directory '/app'\n./check.sh\ncheck.sh: line 3: pnpm: command not found\nmake: *** [Makefile:3: check] Error 127\n"
    assert first_failing_lines(make) == ["make: *** [Makefile:3: check] Error 127"]
    assert first_failing_lines("one\ntwo\nthree\n", limit=2) == ["two", "three"]
    assert first_failing_lines("") == []


def test_a_cut_start_adds_no_identifier() -> None:
    """validate keeps only the last TAIL_CHARS characters: the first line can be a fragment of a path."""
    lines = [f"app/module_{i}.py:{i}: error: Name \"thing_{i}\" is not defined  [name-defined]" for i in range(120)]
    full = "\n".join(lines) + "\n" + _sample("tsc.txt") + _sample("go_test.txt")
    everything = set(failures_in(full))
    ends = [m.end() for m in re.finditer("\n", full) if m.end() > TAIL_CHARS + 200]
    for end in ends[:40]:
        for cut in range(0, 60, 7):
            tail = full[end - TAIL_CHARS - cut:end][-TAIL_CHARS:]
            assert set(failures_in(tail)) <= everything, tail[:80]


def test_a_tail_with_only_the_summary_names_the_same_failures() -> None:
    jest = _sample("jest_summary.txt")
    assert failures_in(jest[jest.index("Summary of all failing tests"):]) == SAMPLES["jest"][1]
    vitest = _sample("vitest_ansi.txt")
    assert failures_in(vitest[vitest.index("Failed Suites"):]) == SAMPLES["vitest"][1]


def test_colours_links_and_carriage_returns() -> None:
    linked = "\x1b]8;;file:///w/src/teams.ts\x07src/teams.ts\x1b]8;;\x07(9,10): \x1b[91merror\x1b[0m TS2532: Object is possibly 'undefined'.\n"
    assert failures_in(linked) == ["tsc: src/teams.ts: TS2532: Object is possibly 'undefined'."]
    progress = "collecting ... 10%\rcollecting ... 100%\rFAILED tests/test_a.py::test_x - assert 0\r\n"
    assert failures_in(progress) == ["pytest: tests/test_a.py::test_x"]
    charset = "app/x.py:3: \x1b[1m\x1b[31merror:\x1b(B\x1b[m Bad  \x1b(B\x1b[m\x1b[33m[misc]\x1b(B\x1b[m\n"
    assert failures_in(charset) == ["mypy: app/x.py: Bad [misc]"]


def test_plain_log_lines_are_not_failures() -> None:
    logs = "ERROR something went wrong\nINFO FAIL-safe engaged\nFAIL\n  1) install the app\n✖ 2 problems (2 errors, 0 warnings)\n"
    assert failures_in(logs) == []


def test_one_command_running_several_tools() -> None:
    out = _sample("tsc.txt") + _sample("eslint_unix.txt") + _sample("jest.txt")
    assert failures_in(out) == sorted(SAMPLES["tsc"][1] + ESLINT_IDS + SAMPLES["jest"][1])


def test_a_pre_existing_failure_no_longer_blocks_every_fix() -> None:
    def result(output: str) -> CommandResult:
        return CommandResult("npx tsc -p .", 2, False, 1.0, output, failures_in(output))

    base = [result(_sample("tsc.txt"))]
    assert blocking(base, [result(_sample("tsc_moved.txt"))]) == []  # same errors, every line moved
    worse = _sample("tsc_moved.txt") + "src/api.ts(3,1): error TS2304: Cannot find name 'fetchTeam'.\n"
    assert blocking(base, [result(worse)]) == ["`npx tsc -p .` has new failures: tsc: src/api.ts: TS2304: Cannot find name 'fetchTeam'."]
