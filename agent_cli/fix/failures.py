"""What a validation command's output says failed, as identifiers that stay the same from run to run.

Pure functions over the combined stdout+stderr of one command, which may be only
its last few thousand characters (so the first line may be cut) and may carry ANSI
colours. Each failing test or reported error becomes `"<tool>: <id>"`:

    pytest: tests/test_views.py::test_missing          unittest: app.tests.TestViews.test_get
    tsc: src/teams.ts: TS2532: Object is possibly 'undefined'.
    mypy: app/x.py: Value of type "dict | None" is not indexable [index]
    pyright: app/x.py: Cannot access attribute "foo" for class "Bar" (reportAttributeAccessIssue)
    ruff: app/x.py: F401 `os` imported but unused     eslint: src/app.js: 'x' is not defined (no-undef)
    jest: src/teams.test.js > getTeam › returns 404   vitest: src/teams.test.ts > getTeam > returns 404
    mocha: getTeam > returns 404                       node:test: test/teams.test.js > getTeam > returns 404
    go: example.com/app/teams TestGet                  go: example.com/app/teams

Identifiers leave out what changes between two runs of the same tree or between
two trees: durations, line and column numbers (an unrelated edit that shifts lines
must not look like a new failure), and the absolute path of the attempt's worktree
(everything up to a `/fix-<n>-<n>/` or `/dry-<n>-<hex>/` segment, or a given `root`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# validate keeps this many characters of a command's output; an output this long was probably cut mid-line.
TAIL_CHARS = 6000

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: terminal hyperlinks, titles
    r"|\x1b[()*+][0-9A-Za-z]"  # character-set selection (mypy's tput colours)
    r"|\x1b[@-Z\\-_]"  # other two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]|\x1b"  # stray control characters
)
_WORKTREE = r"[/\\](?:fix-\d+-\d+|dry-\d+-[0-9a-f]+)[/\\]"
_WORKTREE_IN_TEXT = re.compile(r"(?:[A-Za-z]:)?[^\s'\"`()\[\]<>,;=|]*?" + _WORKTREE)
_WORKTREE_PREFIX = re.compile(r"^.*?" + _WORKTREE)
_LINE_NO = re.compile(r"\bline \d+\b")
_POSITION = re.compile(r"(?<=\w):\d+(?::\d+)?$")
_DURATION_TAIL = re.compile(r"\s+\((?:\d+(?:\.\d+)?\s?m?s|[\d.]+ s)\)$")


@dataclass
class _Finding:
    id: str
    at: int  # index of the line it was read from: the order of first_failing_lines
    start: int  # its text: lines[start:end]
    end: int
    show: list[str] = field(default_factory=list)  # what a person should see first; [] = nothing


class _Output:
    """The output as clean lines: no colours, no carriage-return overwrites, worktree paths made relative."""

    def __init__(self, output: str, root: str | os.PathLike[str] | None) -> None:
        self.roots = _roots(root)
        text = _ANSI.sub("", output).replace("\r\n", "\n")
        lines = [_after_carriage_return(line) for line in text.split("\n")]
        if len(output) >= TAIL_CHARS and len(lines) > 1:
            lines = lines[1:]  # a cut start: its first line is a fragment that could parse as something else
        self.lines = [self.norm_text(line.rstrip()) for line in lines]
        self.text = "\n".join(self.lines)

    def norm_text(self, line: str) -> str:
        for root in self.roots:
            line = line.replace(root + "/", "")
        if "/fix-" in line or "/dry-" in line or "\\fix-" in line or "\\dry-" in line:
            line = _WORKTREE_IN_TEXT.sub("", line)
        return line

    def path(self, path: str) -> str:
        """A file path as the repository knows it (paths with spaces, which norm_text leaves, too)."""
        path = path.strip().strip("'\"")
        for root in self.roots:
            if path == root:
                return "."
            if path.startswith(root + "/"):
                path = path[len(root) + 1:]
        path = _WORKTREE_PREFIX.sub("", path)
        while path.startswith("./"):
            path = path[2:]
        return path


def _roots(root: str | os.PathLike[str] | None) -> list[str]:
    if root is None or not str(root):
        return []
    given = os.fspath(root).rstrip("/\\")
    roots = {given, os.path.realpath(given), os.path.abspath(given)}
    return sorted((r for r in roots if r and r != "/"), key=len, reverse=True)


def _after_carriage_return(line: str) -> str:
    if "\r" not in line:
        return line
    parts = [p for p in line.split("\r") if p.strip()]
    return parts[-1] if parts else ""


def _msg(message: str) -> str:
    """A message as part of an identifier: one line, single spaces, no line numbers of other definitions."""
    return _LINE_NO.sub("line N", " ".join(message.split()))


def _name(name: str) -> str:
    return " ".join(name.split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())  # str.lstrip also takes the no-break spaces pyright indents with


def _span_while(lines: list[str], start: int, keep: Callable[[str], bool], cap: int = 40) -> int:
    """End of the span that starts at `start` (its header) and goes on while `keep(line)`."""
    end = start + 1
    while end < len(lines) and end - start < cap and keep(lines[end]):
        end += 1
    return end


def _first_text_line(lines: list[str], start: int, end: int) -> str | None:
    for line in lines[start:end]:
        if line.strip():
            return line.strip()
    return None


# --- line diagnostics: type checkers, linters, compilers --------------------------------------------------

_TSC = re.compile(r"^(?P<file>[^\s(][^(]*?)\((?P<pos>\d+,\d+)\): error (?P<code>TS\d+): (?P<msg>.*)$")
_TSC_PRETTY = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<pos>\d+:\d+) - error (?P<code>TS\d+): (?P<msg>.*)$")
_TSC_GLOBAL = re.compile(r"^error (?P<code>TS\d+): (?P<msg>.*)$")
_PYRIGHT = re.compile(r"^\s+(?:(?P<file>\S.*?):)?(?P<pos>\d+:\d+) - error: (?P<msg>.*)$")
_PYRIGHT_RULE = re.compile(r"\s*\((?P<rule>report\w+)\)$")
_STYLISH = re.compile(r"^\s+(?P<pos>\d+:\d+)\s+(?P<sev>error|warning)\s+(?P<rest>\S.*)$")
_STYLISH_RULE = re.compile(r"^(?P<msg>.*?)\s{2,}(?P<rule>[@\w][\w@/.-]*)$")
_ESLINT_UNIX = re.compile(r"^(?P<file>\S.*?):(?P<pos>\d+:\d+): (?P<msg>.+) \[(?P<sev>Error|Warning)(?:/(?P<rule>[^\]]+))?\]$")
_ESLINT_COMPACT = re.compile(
    r"^(?P<file>\S.*?): line (?P<line>\d+), col (?P<col>\d+), (?P<sev>Error|Warning) - (?P<msg>.+?)(?: \((?P<rule>[@\w][\w@/.-]*)\))?$"
)
_MYPY = re.compile(r"^(?P<file>[^\s:][^:]*?\.pyi?)(?::\d+){0,4}: error: (?P<msg>.+)$")
_CC = re.compile(r"^(?P<file>[^\s:][^:]*?\.\w+)(?::\d+){1,4}: (?:fatal )?error: (?P<msg>.+)$")
_GO_COMPILE = re.compile(r"^(?:vet: )?(?P<file>[^\s:]+\.go):\d+(?::\d+)?: (?P<msg>.+)$")
_RUFF_CODE = r"[A-Z]{1,4}\d{1,5}"
_RUFF_NAME = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*:"
_RUFF = re.compile(rf"^(?P<file>[^\s:][^:]*?):\d+:\d+: (?P<code>{_RUFF_CODE}:?|{_RUFF_NAME}) (?:\[\*\] )?(?P<msg>.+)$")
_RUFF_PYLINT = re.compile(rf"^(?P<file>[^\s:][^:]*?):\d+: \[(?P<code>{_RUFF_CODE})\] (?P<msg>.+)$")
_RUFF_GROUPED = re.compile(rf"^\s+(?P<pos>\d+:\d+)\s+(?P<code>{_RUFF_CODE}|{_RUFF_NAME}) (?:\[\*\] )?(?P<msg>.+)$")
_RUFF_FULL = re.compile(rf"^(?P<code>{_RUFF_CODE}|{_RUFF_NAME}|error\[E\d+\]:) (?:\[\*\] )?(?P<msg>\S.*)$")
_ARROW = re.compile(r"^\s*--> (?P<file>.+?):(?P<pos>\d+:\d+)$")
_WOULD_REFORMAT = re.compile(r"^(?P<tool>Would reformat|would reformat):? (?P<file>\S.*)$")
_PY_FILES = (".py", ".pyi", ".ipynb", ".toml")
_NOT_RULES = {"warning:", "note:", "help:", "info:", "hint:"}


def _diagnostics(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    strict_eslint = "too many warnings" in out.text  # --max-warnings: then warnings fail the command too
    header = ""  # the last line that was not indented: eslint's, pyright's and ruff's file headers
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        found = _diagnostic(out, i, line, header, strict_eslint)
        if found is not None:
            yield found
        elif not line[0].isspace():
            header = line


def _diagnostic(out: _Output, i: int, line: str, header: str, strict_eslint: bool) -> _Finding | None:
    lines = out.lines

    def continued(last: int, *, numbered: bool = False) -> int:
        # the diagnostic's own lines after `last`: related information and code excerpts, which are indented
        # (or, numbered, start with the excerpt's line number: tsc --pretty), and the blank lines between them
        def keep(s: str) -> bool:
            return (not s.strip() or s[0].isspace() or (numbered and s[0].isdigit())) and not _is_diagnostic_start(s)
        end = _span_while(lines, last, keep, cap=12)
        while end > last + 1 and not lines[end - 1].strip():
            end -= 1
        return end

    def indented(start: int) -> int:
        base = _indent(lines[start])
        return _span_while(lines, start, lambda s: bool(s.strip()) and _indent(s) > base and not _is_diagnostic_start(s), cap=12)

    def make(ident: str, end: int) -> _Finding:
        return _Finding(ident, i, i, end, [line.strip()])

    if m := _TSC.match(line) or _TSC_PRETTY.match(line):
        return make(f"tsc: {out.path(m['file'])}: {m['code']}: {_msg(m['msg'])}", continued(i, numbered=" - error " in line))
    if m := _TSC_GLOBAL.match(line):
        return make(f"tsc: {m['code']}: {_msg(m['msg'])}", i + 1)
    if m := _PYRIGHT.match(line):
        file = m["file"] or (header if header.endswith((".py", ".pyi")) else "")
        end = indented(i)
        message, rule = m["msg"], None
        if r := _PYRIGHT_RULE.search(message):
            message, rule = message[: r.start()], r["rule"]
        elif end > i + 1 and (r := _PYRIGHT_RULE.search(lines[end - 1])):
            rule = r["rule"]
        where = f"{out.path(file)}: " if file else ""
        return make(f"pyright: {where}{_msg(message)}" + (f" ({rule})" if rule else ""), end)
    if m := _STYLISH.match(line):
        if m["sev"] == "warning" and not strict_eslint:
            return None
        rest = m["rest"].rstrip()
        r = _STYLISH_RULE.match(rest)
        message, rule = (r["msg"], r["rule"]) if r else (rest, None)
        file = out.path(header) if header else ""
        found = make(_eslint_id(file, message, rule), i + 1)
        found.show = [f"{file + ':' if file else ''}{m['pos']}: {m['sev']}: {_name(message)}" + (f" ({rule})" if rule else "")]
        return found
    if m := _ESLINT_UNIX.match(line) or _ESLINT_COMPACT.match(line):
        if m["sev"] == "Warning" and not strict_eslint:
            return None
        return make(_eslint_id(out.path(m["file"]), m["msg"], m["rule"]), i + 1)
    if m := _MYPY.match(line):
        message, k = m["msg"], i + 1
        while not _MYPY_CODE.search(message) and k < len(lines) and k - i <= 3 and _mypy_wrapped(lines[k]):
            message += " " + lines[k].strip()  # --pretty wraps long messages at the terminal width
            k += 1
        return make(f"mypy: {out.path(m['file'])}: {_msg(message)}", continued(k - 1))
    if m := _CC.match(line):
        return make(f"error: {out.path(m['file'])}: {_msg(m['msg'])}", continued(i))
    if m := _GO_COMPILE.match(line):
        return make(f"go: {out.path(m['file'])}: {_msg(m['msg'])}", i + 1)
    if (m := _RUFF.match(line)) and (m["code"][0].isupper() or m["file"].endswith(_PY_FILES)):
        if m["code"] in _NOT_RULES:
            return None
        return make(f"ruff: {out.path(m['file'])}: {m['code']} {_msg(m['msg'])}", continued(i))
    if m := _RUFF_PYLINT.match(line):
        return make(f"ruff: {out.path(m['file'])}: {m['code']} {_msg(m['msg'])}", i + 1)
    if (m := _RUFF_GROUPED.match(line)) and header.endswith(":") and header[:-1].endswith(_PY_FILES):
        file = out.path(header[:-1])
        found = make(f"ruff: {file}: {m['code']} {_msg(m['msg'])}", i + 1)
        found.show = [f"{file}:{m['pos']}: {m['code']} {m['msg']}"]
        return found
    if (m := _RUFF_FULL.match(line)) and m["code"] not in _NOT_RULES and i + 1 < len(lines) and (a := _ARROW.match(lines[i + 1])):
        tool, file = ("ruff" if a["file"].endswith(_PY_FILES) else "error"), out.path(a["file"])
        # ruff's full format: the excerpt and help below, up to the blank line that ends the diagnostic
        found = make(f"{tool}: {file}: {m['code']} {_msg(m['msg'])}", _span_while(lines, i, lambda s: bool(s.strip()), cap=40))
        found.show = [f"{file}:{a['pos']}: {line.strip()}"]
        return found
    if m := _WOULD_REFORMAT.match(line):
        tool = "ruff" if m["tool"][0] == "W" else "black"
        return make(f"{tool}: {out.path(m['file'])}: would reformat", i + 1)
    return None


_MYPY_CODE = re.compile(r"\s\s\[[\w-]+\]$")


def _mypy_wrapped(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and not _is_diagnostic_start(line) and not line.startswith(("Found ", "Success:"))


def _eslint_id(file: str, message: str, rule: str | None) -> str:
    message = _msg(message)
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]  # stylish drops the full stop that unix and compact keep
    where = f"{file}: " if file else ""
    return f"eslint: {where}{message}" + (f" ({rule})" if rule else "")


_STARTS = (_TSC, _TSC_PRETTY, _TSC_GLOBAL, _PYRIGHT, _STYLISH, _ESLINT_UNIX, _ESLINT_COMPACT, _MYPY, _CC, _RUFF, _RUFF_FULL)
_MYPY_NOTE = re.compile(r"^[^\s:][^:]*?(?::\d+){1,4}: (?:note|error|warning): ")


def _is_diagnostic_start(line: str) -> bool:
    return bool(_MYPY_NOTE.match(line)) or any(p.match(line) for p in _STARTS)


# --- pytest and unittest ---------------------------------------------------------------------------------

_NODE = r"[^\s\[]+(?:\[[^\n]*?\])?"
_PYTEST_SHORT = re.compile(rf"^(?:\[gw\d+\] (?:\[\s*\d+%\] )?)?(?:FAILED|ERROR) (?P<id>{_NODE})(?: - .*)?$")
_PYTEST_VERBOSE = re.compile(rf"^(?P<id>{_NODE}) (?:FAILED|ERROR)(?:\s+\[\s*\d+%\])?\s*$")
_PYTEST_SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_PYTEST_SECTION_END = re.compile(r"^(?:={3,}|_{3,} .+ _{3,})$")
_PYTEST_FRAME = re.compile(r"^(?P<file>[^\s:][^:]*?\.py):\d+:(?: |$)")  # a traceback frame: `tests/t.py:12: in test_x`
_UNITTEST = re.compile(r"^(?:FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>\S+) \((?P<where>[^)]*)\)")
_UNITTEST_END = re.compile(r"^(?:={20,}|Ran \d+ tests? in )")


def _pytest_title(nodeid: str) -> str:
    """The title pytest gives a test's section: tests/t.py::TestA::test_b[x] -> TestA.test_b[x]."""
    base, bracket, param = nodeid.partition("[")
    return ".".join(base.split("::")[1:]) + bracket + param


def _pytest(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    summary: dict[str, list[str]] = {}  # section title -> node ids the summary names with it
    for i, line in enumerate(lines):
        if (m := _PYTEST_SHORT.match(line)) and ("::" in m["id"] or "/" in m["id"] or m["id"].endswith(".py")):
            show = [line.strip()]  # (a log line `ERROR word` names no test)
        elif (m := _PYTEST_VERBOSE.match(line)) and "::" in m["id"]:
            show = []  # `-v`'s progress line: the short summary says more
        else:
            continue
        nodeid = out.path(m["id"])
        summary.setdefault(_pytest_title(nodeid), []).append(nodeid)
        yield _Finding(f"pytest: {nodeid}", i, i, i + 1, show)
    for i, line in enumerate(lines):
        if not (m := _PYTEST_SECTION.match(line)):
            continue
        end = _span_while(lines, i, lambda s: not _PYTEST_SECTION_END.match(s), cap=400)
        title = m["title"]
        if title.startswith("ERROR collecting "):
            nodeid = out.path(title[len("ERROR collecting "):])
            yield _Finding(f"pytest: {nodeid}", i, i, end, [] if summary else [line.strip("_ ")])
            continue
        for prefix in ("ERROR at setup of ", "ERROR at teardown of "):
            title = title.removeprefix(prefix)
        frame = next((f["file"] for s in lines[i + 1:end] if (f := _PYTEST_FRAME.match(s))), None)
        if summary:
            candidates = summary.get(title, [])
            same_file = [c for c in candidates if frame is not None and c.split("::")[0] == out.path(frame)]
            for nodeid in same_file or candidates:
                yield _Finding(f"pytest: {nodeid}", i, i, end)
        elif frame is not None and title[0] != "[" and "::" not in title and " " not in title.partition("[")[0]:
            # no short summary (-rN, or cut): the first frame of a test's traceback is the test's own file
            base, bracket, param = title.partition("[")
            nodeid = f"{out.path(frame)}::{base.replace('.', '::')}{bracket}{param}"
            yield _Finding(f"pytest: {nodeid}", i, i, end, [line.strip("_ ")])
    for i, line in enumerate(lines):
        if m := _UNITTEST.match(line):
            where, name = m["where"], m["name"]
            ident = where if where.endswith("." + name) else f"{where}.{name}" if where else name
            end = _span_while(lines, i, lambda s: not _UNITTEST_END.match(s), cap=200)
            yield _Finding(f"unittest: {ident}", i, i, end, [line.strip()])


# --- jest and vitest -------------------------------------------------------------------------------------

_FAIL_BADGE = re.compile(r"^ ?(?P<state>FAIL|PASS) {1,2}(?P<rest>\S.*)$")
_JEST_BLOCK = re.compile(r"^  ● (?P<name>\S.*)$")
_JEST_BLOCK_END = re.compile(r"^(?:  ● |●|Summary of all failing tests|Test Suites:|Tests:|Snapshots:|Time:|Ran all test suites)")
_JEST_NOT_TESTS = {"Console"}
_VITEST_DIVIDER = re.compile(r"^⎯+(?: .* ⎯+|\[\d+/\d+\]⎯*)?$")
_VITEST_SUITE = re.compile(r"^(?P<name>.+?) \[ (?P<file>.+) \]$")
_VITEST_SUMMARY = re.compile(r"^\s*(?:Test Files|Tests|Type Errors|Errors|Start at|Duration)\s")
_VITEST_MODULE = re.compile(r"^ (?:❯|×|✓|↓) (?P<file>\S+) \(\d+ tests?")
_VITEST_CROSS = re.compile(r"^\s+× (?P<name>.+?)(?: \d+(?:\.\d+)?m?s)?$")
_VITEST_UNHANDLED = re.compile(r"^⎯+ Unhandled (?P<kind>Error|Rejection) ⎯+$")


def _is_vitest_fail(rest: str) -> bool:
    return " > " in rest or bool(_VITEST_SUITE.match(rest))


def _jest_vitest(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    jest_file: str | None = None
    vitest_fails = 0
    for i, line in enumerate(lines):
        if m := _FAIL_BADGE.match(line):
            rest = m["rest"].strip()
            if m["state"] == "FAIL" and _is_vitest_fail(rest):
                vitest_fails += 1
                yield _vitest_fail(out, i, rest)
                continue
            path = _DURATION_TAIL.sub("", rest).split()[-1]
            jest_file = out.path(path) if m["state"] == "FAIL" else None
        elif m := _JEST_BLOCK.match(line):
            name = _name(m["name"])
            if name in _JEST_NOT_TESTS:
                continue
            end = _span_while(lines, i, lambda s: not _JEST_BLOCK_END.match(s) and not _FAIL_BADGE.match(s), cap=80)
            first = _first_text_line(lines, i + 1, end)
            ident = f"jest: {jest_file} > {name}" if jest_file else f"jest: {name}"
            yield _Finding(ident, i, i, end, [line.strip()] + ([first] if first else []))
        elif m := _VITEST_UNHANDLED.match(line):
            end = _span_while(lines, i, lambda s: not _VITEST_DIVIDER.match(s) and not _VITEST_SUMMARY.match(s), cap=60)
            first = next((s.strip() for s in lines[i + 1:end] if s.strip() and not s.startswith("This error")), None)
            if first:
                yield _Finding(f"vitest: unhandled {m['kind'].lower()}: {_msg(first)}", i, i, end, [first])
    if not vitest_fails:
        yield from _vitest_crosses(out)


def _vitest_fail(out: _Output, i: int, rest: str) -> _Finding:
    lines = out.lines
    if m := _VITEST_SUITE.match(rest):
        ident = out.path(m["file"])
    else:
        first, _, tail = rest.partition(" > ")
        project, _, file = first.rpartition(" ")  # `|name| file` in a workspace
        ident = f"{project + ' ' if project else ''}{out.path(file)} > {_name(tail)}"
    end = _span_while(lines, i, lambda s: not _VITEST_DIVIDER.match(s) and not _VITEST_SUMMARY.match(s), cap=80)
    message = next((s.strip() for s in lines[i + 1:end] if s.strip() and not _FAIL_BADGE.match(s)), None)
    return _Finding(f"vitest: {ident}", i, i, end, [lines[i].strip()] + ([message] if message else []))


def _vitest_crosses(out: _Output) -> Iterator[_Finding]:
    """`×` lines under their file's line, for a vitest output whose summary is missing (killed, or cut)."""
    file: str | None = None
    for i, line in enumerate(out.lines):
        if m := _VITEST_MODULE.match(line):
            file = out.path(m["file"])
        elif file and (m := _VITEST_CROSS.match(line)):
            end = _span_while(out.lines, i, lambda s: s.lstrip().startswith("→"), cap=10)
            yield _Finding(f"vitest: {file} > {_name(m['name'])}", i, i, end, [line.strip()])
        elif line and not line[0].isspace():
            file = None


# --- mocha -----------------------------------------------------------------------------------------------

_MOCHA_HEAD = re.compile(r"^  (?P<n>\d+)\) (?P<title>\S.*)$")
_MOCHA_MORE = re.compile(r"^ {7,}(?P<title>\S.*)$")


def _mocha(out: _Output) -> Iterator[_Finding]:
    """The numbered failures after `N failing`: `  1) suite\\n       test:` (the spec lines before have no colon)."""
    lines = out.lines
    for i, line in enumerate(lines):
        if not (m := _MOCHA_HEAD.match(line)):
            continue
        titles, j = [m["title"]], i
        while not titles[-1].endswith(":") and j + 1 < len(lines) and j - i < 12 and (more := _MOCHA_MORE.match(lines[j + 1])):
            titles.append(more["title"])
            j += 1
        message_at = j + 2 if j + 2 < len(lines) and not lines[j + 1].strip() else j + 1
        if not titles[-1].endswith(":") or message_at >= len(lines) or _indent(lines[message_at]) < 5:
            continue  # mocha puts the error's message under the title, indented
        titles[-1] = titles[-1][:-1]
        end = _span_while(lines, j, lambda s: not _MOCHA_HEAD.match(s), cap=60)
        while end > j + 1 and not lines[end - 1].strip():
            end -= 1
        message = _first_text_line(lines, j + 1, end)
        name = " > ".join(_name(t) for t in titles)
        show = f"{m['n']}) {name}" + (f": {message}" if message else "")
        yield _Finding(f"mocha: {name}", i, i, end, [show])


# --- node:test (TAP and spec) and other TAP --------------------------------------------------------------

_TAP_SUBTEST = re.compile(r"^(?P<ind>\s*)# Subtest: (?P<name>.*)$")
_TAP_RESULT = re.compile(r"^(?P<ind>\s*)(?P<ok>not ok|ok) \d+(?: -)?(?: (?P<name>.*?))?(?: # (?P<directive>(?i:todo|skip)\b.*))?$")
_TAP_LOCATION = re.compile(r"^\s*location: '(?P<loc>.*)'$")
_TAP_FAILURE_TYPE = re.compile(r"^\s*failureType: '(?P<type>\w+)'$")
_TAP_ERROR = re.compile(r"^\s*error: (?P<error>.*)$")
_SPEC_AT = re.compile(r"^test at (?P<loc>.+?):\d+:\d+$")
_SPEC_FAIL = re.compile(r"^(?P<ind>\s*)✖ (?P<name>.+?)(?P<took> \(\d+(?:\.\d+)?m?s\))?$")
_SPEC_SUITE = re.compile(r"^(?P<ind>\s*)▶ (?P<name>.+?)(?: \(\d+(?:\.\d+)?m?s\))?$")


def _tap_name(name: str) -> str:
    return _name(name.replace("\\#", "#").replace("\\\\", "\\"))


def _node_test_id(out: _Output, tool: str, location: str | None, path: list[str]) -> str:
    names = [out.path(p) if os.path.isabs(p) or _WORKTREE_PREFIX.match(p) else p for p in path]
    if location:
        file = out.path(_POSITION.sub("", location))
        if names == [file]:
            return f"{tool}: {file}"  # a test file that failed to load
        return f"{tool}: {file} > " + " > ".join(names)
    return f"{tool}: " + " > ".join(names)


def _tap(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    tool = "node:test" if any(_TAP_SUBTEST.match(s) for s in lines) else "tap"
    results: list[tuple[int, int, str, bool]] = []  # (line, level, name, failed)
    stacks: dict[int, list[str | None]] = {}
    stack: list[str | None] = []
    for i, line in enumerate(lines):
        if m := _TAP_SUBTEST.match(line):
            level = len(m["ind"]) // 4
            stack = stack[:level] + [None] * (level - len(stack)) + [_tap_name(m["name"])]
        elif (m := _TAP_RESULT.match(line)) and not m["directive"]:
            level = len(m["ind"]) // 4
            results.append((i, level, _tap_name(m["name"] or ""), m["ok"] == "not ok"))
            stacks[i] = (stack[:level] + [None] * level)[:level]
    # A cut start loses `# Subtest:` lines; a parent's own result line comes after its tests, though:
    # the first result at level j after a test names its ancestor at level j.
    later: dict[int, str] = {}
    parents: dict[int, dict[int, str]] = {}
    for i, level, name, failed in reversed(results):
        if failed:
            parents[i] = dict(later)
        later[level] = name
    for i, level, name, failed in results:
        if not failed:
            continue
        ancestors = [a if a is not None else parents[i].get(j, "?") for j, a in enumerate(stacks[i])]
        base = _indent(lines[i])
        end = _span_while(lines, i, lambda s: not s.strip() or _indent(s) > base, cap=60)
        block = lines[i + 1:end]
        if any((f := _TAP_FAILURE_TYPE.match(s)) and f["type"] == "subtestsFailed" for s in block):
            continue  # a suite that failed only because a test in it did
        location = next((loc["loc"] for s in block if (loc := _TAP_LOCATION.match(s))), None)
        error = _tap_error(block)
        path = ancestors + [name]
        show = [lines[i].strip()] + ([f"error: {error}"] if error else [])
        yield _Finding(_node_test_id(out, tool, location, path), i, i, end, show)


def _tap_error(block: list[str]) -> str | None:
    """The `error:` of a TAP result's YAML block: inline (`error: 'boom'`) or a block scalar (`error: |-`)."""
    for k, line in enumerate(block):
        if m := _TAP_ERROR.match(line):
            value = m["error"].strip()
            if value in ("|-", "|", ">-", ">", "|+"):
                return next((s.strip() for s in block[k + 1:] if s.strip()), None)
            return value.strip("'\"") or None
    return None


def _node_spec(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    summary = False
    for i, line in enumerate(lines[:-1]):
        if (at := _SPEC_AT.match(line)) and (m := _SPEC_FAIL.match(lines[i + 1])):
            summary = True
            end = _span_while(lines, i + 1, lambda s: not s.strip() or _indent(s) > 0, cap=60)
            while end > i + 2 and not lines[end - 1].strip():
                end -= 1
            message = _first_text_line(lines, i + 2, end)
            yield _Finding(_node_test_id(out, "node:test", at["loc"], [_name(m["name"])]), i + 1, i, end,
                           [lines[i + 1].strip()] + ([message] if message else []))
    if summary:
        return
    # no `failing tests:` summary (older node): the tree, where a suite that failed closes with `✖ name` too
    suites: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        if m := _SPEC_SUITE.match(line):
            level = len(m["ind"])
            suites = [s for s in suites if s[0] < level] + [(level, _name(m["name"]))]
        elif (m := _SPEC_FAIL.match(line)) and m["took"]:  # a test's line has its duration (eslint's `✖ 2 problems` not)
            level, name = len(m["ind"]), _name(m["name"])
            if (level, name) in suites:
                continue
            path = [s[1] for s in suites if s[0] < level] + [name]
            end = _span_while(lines, i, lambda s: not s.strip() or _indent(s) > level, cap=40)
            yield _Finding(_node_test_id(out, "node:test", None, path), i, i, end, [line.strip()])


# --- go test ---------------------------------------------------------------------------------------------

_GO_TEST_FAIL = re.compile(r"^(?P<ind>\s*)--- FAIL: (?P<name>\S+)(?: \([\d.]+s\))?$")
_GO_PKG_FAIL = re.compile(r"^FAIL\t(?P<pkg>\S+)(?:\t[\d.]+s|\s+\[(?P<why>[^\]]+)\])?\s*$")
_GO_PKG_OK = re.compile(r"^ok\s+\S+")


def _go(out: _Output) -> Iterator[_Finding]:
    lines = out.lines
    pending: list[tuple[int, int, str, int]] = []  # tests not yet told their package: (start, line, name, end)
    for i, line in enumerate(lines):
        if m := _GO_TEST_FAIL.match(line):
            base = len(m["ind"])
            end = _span_while(lines, i, lambda s: _indent(s) > base and not _GO_TEST_FAIL.match(s), cap=40)
            run = f"=== RUN   {m['name']}"  # -v prints the test's log before its result, after this line
            start = next((k for k in range(i - 1, max(i - 200, -1), -1) if lines[k].strip() == run), i)
            pending.append((start, i, m["name"], end))
        elif m := _GO_PKG_FAIL.match(line):
            pkg = m["pkg"]
            for start, at, name, end in pending:
                yield _go_test(lines, f"go: {pkg} {name}", start, at, end)
            pending = []
            ident = f"go: {pkg} [{m['why']}]" if m["why"] else f"go: {pkg}"
            yield _Finding(ident, i, i, i + 1, [line.strip().replace("\t", " ")])
        elif _GO_PKG_OK.match(line):
            pending = []
    for start, at, name, end in pending:  # killed before the package's FAIL line
        yield _go_test(lines, f"go: {name}", start, at, end)


def _go_test(lines: list[str], ident: str, start: int, at: int, end: int) -> _Finding:
    log = next((s.strip() for s in lines[start + 1:at] + lines[at + 1:end] if s.strip() and not s.lstrip().startswith(("=== ", "--- "))), None)
    return _Finding(ident, at, start, end, [lines[at].strip()] + ([log] if log else []))


# --- the API ---------------------------------------------------------------------------------------------

_PARSERS = (_diagnostics, _pytest, _jest_vitest, _mocha, _tap, _node_spec, _go)


def _findings(output: str, root: str | os.PathLike[str] | None) -> tuple[_Output, list[_Finding]]:
    out = _Output(output, root)
    found = [f for parse in _PARSERS for f in parse(out)]
    return out, sorted(found, key=lambda f: f.at)


def failures_in(output: str, root: str | os.PathLike[str] | None = None) -> list[str]:
    """Sorted, de-duplicated identifiers of the failing tests and reported errors in `output`.

    `root`: the tree the command ran in, when its absolute path is not an attempt's
    worktree (those are recognised by their `/fix-<n>-<n>/` or `/dry-<n>-<hex>/` segment).
    """
    return sorted({f.id for f in _findings(output, root)[1]})


def failure_text(output: str, failure: str, root: str | os.PathLike[str] | None = None) -> str:
    """The part of `output` that belongs to `failure` (an identifier from failures_in), or "" if it can't be isolated."""
    out, found = _findings(output, root)
    spans = sorted((f.start, f.end) for f in found if f.id == failure)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return "\n".join("\n".join(out.lines[start:end]).strip("\n") for start, end in merged).strip("\n")


_FAILURE_WORDS = re.compile(r"(?i)\b(?:error|errors|failed|failure|failures|fail|fatal|exception|traceback|panic)\b|[✖×✕]")
_ALL_CLEAR = re.compile(r"(?i)\b(?:0|no) (?:errors?|failures?|failed)\b")


def first_failing_lines(output: str, limit: int = 8, root: str | os.PathLike[str] | None = None) -> list[str]:
    """The lines a person should see first to know why the command failed, at most `limit`."""
    out, found = _findings(output, root)
    shown: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for finding in found:
        lines = tuple(_clip(line) for line in finding.show if line)
        if lines and lines not in seen:  # the same failure printed twice (jest's and vitest's summaries)
            seen.add(lines)
            shown.extend(lines)
    if not shown:
        for line in out.lines:
            line = _clip(line.strip())
            if line and _FAILURE_WORDS.search(line) and not _ALL_CLEAR.search(line) and line not in shown:
                shown.append(line)
    if not shown:
        shown = [_clip(s.strip()) for s in out.lines if s.strip()][-limit:]
    return shown[:max(limit, 0)]


def _clip(line: str, width: int = 300) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
