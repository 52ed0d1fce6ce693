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


def _indent_shift(file_lines: list[str], wanted: list[str]) -> tuple[str, str] | None:
    """The one indentation change turning `wanted` into `file_lines`, as (removed, added); None if there is none.

    Blank lines are ignored. Either the file adds the same prefix to every search
    line's indentation, or the search has the same extra prefix on every line;
    otherwise the lines' relative indentation differs and they are different code.
    """
    pairs = [(_indent(w), _indent(f)) for w, f in zip(wanted, file_lines) if w.strip()]
    if not pairs:
        return "", ""
    s0, f0 = pairs[0]
    if len(f0) >= len(s0):
        added = f0[: len(f0) - len(s0)]
        return ("", added) if all(f == added + s for s, f in pairs) else None
    removed = s0[: len(s0) - len(f0)]
    return (removed, "") if all(s == removed + f for s, f in pairs) else None


def _first_relative_mismatch(file_lines: list[str], wanted: list[str]) -> int:
    """Index of the first line whose indentation does not follow the first non-blank line's shift."""
    for end in range(1, len(wanted) + 1):
        if _indent_shift(file_lines[:end], wanted[:end]) is None:
            return end - 1
    return 0


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
    if not hits:
        raise EditRejected(f"{path}: search text not found; it must be an exact excerpt of the current file. {_closest(text, search)}")
    # Indentation may be off by a constant amount, but each line's indentation
    # relative to the others must agree with the file, or the code means something else.
    shifts = {i: _indent_shift(lines[i : i + len(wanted)], wanted) for i in hits}
    agreeing = [i for i in hits if shifts[i] is not None]
    if len(agreeing) > 1:
        raise EditRejected(f"{path}: search text matches {len(agreeing)} places (ignoring indentation); include more surrounding lines")
    if not agreeing:
        i = hits[0]
        bad = i + _first_relative_mismatch(lines[i : i + len(wanted)], wanted) + 1
        where = "; ".join(f"lines {h + 1}-{h + len(wanted)}" for h in hits)
        excerpt = "\n".join(f"{n + 1:5d}  {lines[n]}" for n in range(i, i + len(wanted)))
        raise EditRejected(
            f"{path}: search text matches ({where}) only when indentation is ignored, and its relative indentation "
            f"differs from the file (first at line {bad}), so it would change which block a line belongs to; "
            f"copy the lines exactly as indented in the file:\n{excerpt}"
        )
    i = agreeing[0]
    shift = shifts[i]
    assert shift is not None
    removed, added = shift
    # Re-indent the replacement by the same constant shift between the search text and the file.
    new_lines = []
    for line in replace.strip("\n").split("\n"):
        if not line.strip():
            new_lines.append("")
            continue
        if removed and line.startswith(removed):
            line = line[len(removed):]
        new_lines.append(added + line)
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
