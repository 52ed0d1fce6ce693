"""Applying search/replace edits (Aider-style), with failure text a model can act on.

Pure functions over strings; `apply_edits` is the only one that writes, and
only after every edit of the set applied in memory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from agent_cli.llm_schema import Edit


class EditRejected(Exception):
    """An edit that cannot be applied; the message says what failed and what is there."""


def _closest(text: str, search: str) -> str:
    lines = text.split("\n")
    wanted = [s.strip() for s in search.strip("\n").split("\n")]
    first = wanted[0] if wanted else ""
    best = difflib.get_close_matches(first, [line.strip() for line in lines], n=1, cutoff=0.4)
    if not best:
        return "no similar lines in the file"
    index = next(i for i, line in enumerate(lines) if line.strip() == best[0])
    start, end = max(0, index - 2), min(len(lines), index + len(wanted) + 2)
    excerpt = "\n".join(f"{n + 1:5d}  {lines[n]}" for n in range(start, end))
    return f"closest lines {start + 1}-{end}:\n{excerpt}"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def replace_once(text: str, search: str, replace: str, *, path: str) -> str:
    """`text` with the one occurrence of `search` replaced: exact, then tolerant of leading whitespace."""
    if not search.strip():
        raise EditRejected(f"{path}: empty search text; an empty search only creates a new file")
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1)
    if count > 1:
        raise EditRejected(f"{path}: search text matches {count} places; include more surrounding lines so it matches exactly one")
    lines = text.split("\n")
    wanted = search.strip("\n").split("\n")
    stripped = [w.lstrip() for w in wanted]
    hits = [
        i for i in range(len(lines) - len(wanted) + 1)
        if all(lines[i + j].lstrip() == stripped[j] for j in range(len(wanted)))
    ]
    if len(hits) > 1:
        raise EditRejected(f"{path}: search text matches {len(hits)} places (ignoring indentation); include more surrounding lines")
    if not hits:
        raise EditRejected(f"{path}: search text not found; it must be an exact excerpt of the current file. {_closest(text, search)}")
    i = hits[0]
    # Re-indent the replacement by the difference between the file and the search text.
    file_indent, search_indent = _indent(lines[i]), _indent(wanted[0])
    new_lines = []
    for line in replace.strip("\n").split("\n"):
        if line.startswith(search_indent):
            line = file_indent + line[len(search_indent):]
        new_lines.append(line if line.strip() else "")
    return "\n".join(lines[:i] + new_lines + lines[i + len(wanted):])


@dataclass
class AppliedEdits:
    files: list[str]
    created: list[str]


def plan_edits(root: Path, edits: list[Edit], *, allow_new_files: bool) -> dict[str, str]:
    """New contents per path, computed in memory; raises EditRejected before anything is written."""
    contents: dict[str, str] = {}
    for edit in edits:
        target = root / edit.path
        if edit.path in contents:
            current: str | None = contents[edit.path]
        elif target.is_file():
            current = target.read_text(encoding="utf-8")
        else:
            current = None
        if current is None:
            if edit.search.strip():
                raise EditRejected(f"{edit.path}: file does not exist; to create it use an empty search")
            if not allow_new_files:
                raise EditRejected(f"{edit.path}: creating new files is not allowed here; edit an existing file")
            contents[edit.path] = edit.replace
            continue
        if not edit.search.strip() and current.strip():
            raise EditRejected(f"{edit.path}: file exists; an empty search would overwrite it, give an exact excerpt instead")
        contents[edit.path] = replace_once(current, edit.search, edit.replace, path=edit.path) if edit.search.strip() else edit.replace
    return contents


def write_contents(root: Path, contents: dict[str, str]) -> AppliedEdits:
    created = []
    for path, text in contents.items():
        target = root / path
        if not target.exists():
            created.append(path)
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return AppliedEdits(list(contents), created)
