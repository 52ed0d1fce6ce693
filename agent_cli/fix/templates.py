"""Offline fix templates: a guard for None / undefined dereferences.

The guard reuses the function's own not-found path (a `return ... 404` or a
`raise ...NotFound`) when the function has one, so the fix behaves like the
code around it; otherwise it raises a clear LookupError / Error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agent_cli.diagnose.offline import classify_error
from agent_cli.llm_schema import Edit

_PY_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+\w+")
_PY_NOT_FOUND = re.compile(r"^(?:return\b.*(?:404|not.?found).*|raise\s+\w*(?:NotFound|DoesNotExist|Http404|LookupError)\w*.*)$", re.IGNORECASE)
_JS_NOT_FOUND = re.compile(r"^(?:return\b.*(?:404|not.?found).*;?|throw\s+new\s+\w*NotFound\w*.*)$", re.IGNORECASE)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _dereferenced(code: str, message: str) -> str | None:
    m = re.search(r"attribute '(\w+)'|reading '([\w$]+)'|property '([\w$]+)'", message)
    attr = next((g for g in m.groups() if g), None) if m else None
    if attr:
        found = re.search(rf"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\.\s*{re.escape(attr)}\b", code)
        return found.group(1) if found else None
    if "subscriptable" in message:
        found = re.search(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*\[", code)
        return found.group(1) if found else None
    return None


def _python_function(lines: list[str], index: int) -> tuple[int, int] | None:
    indent = len(_indent(lines[index]))
    for start in range(index - 1, -1, -1):
        m = _PY_DEF.match(lines[start])
        if m and len(m.group(1)) < indent:
            def_indent = len(m.group(1))
            end = len(lines)
            for j in range(start + 1, len(lines)):
                if lines[j].strip() and len(_indent(lines[j])) <= def_indent:
                    end = j
                    break
            return start, end
    return None


def _search_for(lines: list[str], index: int) -> str:
    """The culprit line, with the line above it when the line alone is not unique."""
    text = "\n".join(lines)
    if text.count(lines[index]) == 1 or index == 0:
        return lines[index]
    return "\n".join(lines[index - 1:index + 1])


def none_guard(repo: Path, culprit: dict[str, Any] | None, exception_type: str | None, message: str) -> tuple[list[Edit], str] | None:
    """(edits, summary) guarding the culprit line, or None when the template does not apply."""
    cls = classify_error(exception_type, message)
    if culprit is None or cls is None or cls.name not in ("none-dereference", "undefined-dereference"):
        return None
    path, index = culprit["path"], int(culprit["line"]) - 1
    try:
        lines = (repo / path).read_text(encoding="utf-8").split("\n")
    except OSError:
        return None
    if not 0 <= index < len(lines):
        return None
    code = lines[index]
    var = _dereferenced(code, message)
    if var is None:
        return None
    indent = _indent(code)
    search = _search_for(lines, index)
    if path.endswith(".py"):
        span = _python_function(lines, index)
        body = [line.strip() for line in lines[span[0]:span[1]]] if span else []
        statement = next((b for b in body if _PY_NOT_FOUND.match(b)), None) or f'raise LookupError("{var} not found")'
        guard = f"{indent}if {var} is None:\n{indent}    {statement}\n"
    elif path.endswith((".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx")):
        nearby = [line.strip() for line in lines[max(0, index - 30):index]]
        statement = next((b for b in nearby if _JS_NOT_FOUND.match(b)), None) or f'throw new Error("{var} is undefined");'
        guard = f"{indent}if ({var} == null) {{\n{indent}  {statement}\n{indent}}}\n"
    else:
        return None
    replace = search[: len(search) - len(code)] + guard + code if search != code else guard + code
    return [Edit(path=path, search=search, replace=replace)], f"guard {var} against {'None' if path.endswith('.py') else 'undefined'} in {culprit.get('function') or path}"
