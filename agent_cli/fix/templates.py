"""Offline fix templates: a guard for None / undefined dereferences that reuses the function's own not-found path.

A template never turns one error into another: it applies only when the
enclosing function (found by the language's structure: `ast` for Python;
brackets and function/arrow/method syntax for JS/TS) already answers "not
found" with a `return` (a 404, a not-found body) and the dereferenced value is
looked up in that same function. A guard that raises or throws is not a fix.
The patched file must still parse (`ast.parse`; `node --check` for JS), else
the template does not apply and says why.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_cli.diagnose.offline import classify_error
from agent_cli.llm_schema import Edit

_NOT_FOUND = re.compile(r"404|not.?found|does.?not.?exist|no such", re.IGNORECASE)
_JS_FUNCTION = re.compile(
    r"\bfunction\b[\s\w$]*\(|(?:^|[=:(,]\s*)(?:async\s+)?(?:\([^()]*\)|[\w$]+)\s*=>\s*\{|^\s*(?:async\s+)?(?:(?:public|private|protected|static)\s+)*[\w$]+\s*\([^()]*\)\s*(?::\s*[^{]+)?\{"
)
_JS_RETURN_NOT_FOUND = re.compile(r"^\s*return\b[^;]*(?:404|not.?found)[^;]*;?\s*$", re.IGNORECASE)


@dataclass
class NotApplicable(Exception):
    reason: str


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _dereferenced(code: str, message: str) -> str | None:
    m = re.search(r"attribute '(\w+)'|reading '([\w$]+)'|property '([\w$]+)'", message)
    attr = next((g for g in m.groups() if g), None) if m else None
    if attr:
        found = re.search(rf"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\??\.\s*{re.escape(attr)}\b", code)
        return found.group(1) if found else None
    if "subscriptable" in message:
        found = re.search(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*\[", code)
        return found.group(1) if found else None
    return None


# --- Python -------------------------------------------------------------------------------------

def _python_guard(text: str, line_no: int, var: str) -> str:
    """The not-found statement to reuse, from the function enclosing `line_no`, for `var` looked up there."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise NotApplicable(f"the file does not parse ({exc.msg})") from None
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.lineno <= line_no <= (n.end_lineno or n.lineno)]
    if not functions:
        raise NotApplicable("the failing line is not inside a function")
    function = max(functions, key=lambda n: n.lineno)  # the innermost
    looked_up = any(
        isinstance(n, ast.Assign) and isinstance(n.value, (ast.Call, ast.Await)) and n.lineno < line_no
        and any(ast.unparse(t) == var for t in n.targets)
        for n in ast.walk(function)
    )
    if not looked_up:
        raise NotApplicable(f"{var} is not looked up in {function.name}, so its absence has no known answer there")
    lines = text.split("\n")
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None and _NOT_FOUND.search(ast.unparse(node.value)):
            return "\n".join(lines[node.lineno - 1:node.end_lineno]).strip()
    raise NotApplicable(f"{function.name} has no not-found return to reuse (a guard that raises is not a fix)")


# --- JavaScript / TypeScript -------------------------------------------------------------------

def _js_function_span(lines: list[str], index: int) -> tuple[int, int]:
    """(first, last) line index of the innermost function around `index`, by bracket depth from its opening line."""
    for start in range(index, -1, -1):
        if not _JS_FUNCTION.search(lines[start]):
            continue
        depth, opened = 0, False
        for end in range(start, len(lines)):
            for ch in _code_only(lines[end]):
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if opened and depth <= 0:
                if end >= index:
                    return start, end
                break
    raise NotApplicable("the failing line is not inside a function")


def _code_only(line: str) -> str:
    """The line without string literals and a trailing // comment (so braces in them do not count)."""
    return re.sub(r"//.*$", "", re.sub(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`(?:\\.|[^`\\])*`", "''", line))


def _js_guard(lines: list[str], index: int, var: str) -> str:
    start, end = _js_function_span(lines, index)
    body = lines[start:index]
    if not any(re.search(rf"\b(?:const|let|var)\s+{re.escape(var)}\s*=\s*(?:await\s+)?[\w$.]+\s*\(", line) for line in body):
        raise NotApplicable(f"{var} is not looked up in this function, so its absence has no known answer there")
    found = next((line.strip() for line in lines[start:end + 1] if _JS_RETURN_NOT_FOUND.match(line)), None)
    if found is None:
        raise NotApplicable("the function has no not-found return to reuse (a guard that throws is not a fix)")
    return found


def _parses(path: str, text: str) -> str | None:
    """Why the patched file does not parse, or None."""
    if path.endswith(".py"):
        try:
            ast.parse(text)
        except SyntaxError as exc:
            return f"the patched file does not parse: {exc.msg} (line {exc.lineno})"
        return None
    if path.endswith((".js", ".mjs", ".cjs")) and shutil.which("node"):
        with tempfile.NamedTemporaryFile("w", suffix=Path(path).suffix, delete=True) as handle:
            handle.write(text)
            handle.flush()
            done = subprocess.run(["node", "--check", handle.name], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            return f"the patched file does not parse: {(done.stderr.strip().splitlines() or ['node --check failed'])[-1]}"
    return None  # TypeScript is parsed by the project's own tsc in validation


def none_guard(repo: Path, culprit: dict[str, Any] | None, exception_type: str | None, message: str) -> tuple[list[Edit], str]:
    """(edits, summary) guarding the culprit line; raises NotApplicable saying why it does not apply."""
    cls = classify_error(exception_type, message)
    if culprit is None or cls is None or cls.name not in ("none-dereference", "undefined-dereference"):
        raise NotApplicable("only None/undefined dereferences have an offline template")
    path, index = culprit["path"], int(culprit["line"]) - 1
    try:
        text = (repo / path).read_text(encoding="utf-8")
    except OSError as exc:
        raise NotApplicable(f"{path} cannot be read: {exc.strerror}") from None
    lines = text.split("\n")
    if not 0 <= index < len(lines):
        raise NotApplicable(f"{path} has no line {index + 1}")
    code = lines[index]
    var = _dereferenced(code, message)
    if var is None:
        raise NotApplicable("the dereferenced value is not found on the failing line")
    indent = _indent(code)
    if path.endswith(".py"):
        statement = _python_guard(text, index + 1, var)
        guard = f"{indent}if {var} is None:\n" + "\n".join(f"{indent}    {s.strip()}" for s in statement.split("\n")) + "\n"
    elif path.endswith((".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".mts", ".cts")):
        statement = _js_guard(lines, index, var)
        guard = f"{indent}if ({var} == null) {{\n{indent}  {statement}\n{indent}}}\n"
    else:
        raise NotApplicable(f"no template for {Path(path).suffix or 'this kind of'} file")
    search = code if text.count(code) == 1 or index == 0 else "\n".join(lines[index - 1:index + 1])
    replace = search[: len(search) - len(code)] + guard + code
    patched = text.replace(search, replace, 1)
    problem = _parses(path, patched)
    if problem:
        raise NotApplicable(problem)
    kind = "None" if path.endswith(".py") else "undefined"
    return [Edit(path=path, search=search, replace=replace)], f"guard {var} against {kind} in {culprit.get('function') or path}"
