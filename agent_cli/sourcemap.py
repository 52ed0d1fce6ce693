"""Source maps for Node frames: a built file's `line:col` back to the original source, and build output kept out of the app.

Source Map v3 is decoded here by hand (Base64 VLQ `mappings`, `sources`, `sourceRoot`, `names`, and index maps
with `sections`): the format is small and the decoders on PyPI have not been maintained since 2017-2018.

Lookups follow Node's `--enable-source-maps` (lib/internal/source_map): the entry is the last mapping at or
before the position (on an earlier line too); a mapping without a source means unmapped; `sourceRoot` is
prepended to each source as it is and the result resolved against the map's own location; the function name
comes from the map's `names` at the caller's call site when the map has one there, else V8's name stays. So a
frame mapped here reads as Node prints it with `--enable-source-maps`, and the two traces group together.

Where a map is looked for, for a JS file in the repository's working tree: its `//# sourceMappingURL=` comment
(a relative path, or an inline `data:application/json;base64,` URL), else a sibling `<file>.map`. A map outside
the repository is never read. No map: the frame stays as printed.

A JS frame whose file is gitignored in the repository (`dist/`, `build/`, `.next/` ...) is not in-app: it is
build output, not code a fix could change. One `git check-ignore --stdin` per batch of new paths answers it.

Everything read here is cached for the process (one `agent` run): a map by its file's size and mtime, a path's
place in the repository and its ignore status by path.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import subprocess
from bisect import bisect_right
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from agent_cli.detect.events import Frame
from agent_cli.paths import is_vendored, to_repo_path

JS_EXTENSIONS = (".js", ".mjs", ".cjs", ".jsx")
MAX_MAP_BYTES = 64 * 1024 * 1024
GIT_TIMEOUT_S = 30
_CACHE_MAX = 4096

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# Node's own pattern (lib/internal/source_map/source_map_cache.js); the last match in the file wins.
_URL_COMMENT = re.compile(rb"/[*/][#@]\s+sourceMappingURL=(?P<url>[^\s'\"*]+)")
_DATA_URL = re.compile(r"^data:application/json(?:;charset=[\w-]+)?;base64,(?P<data>.*)$", re.IGNORECASE | re.DOTALL)
_SCHEME = re.compile(r"^[a-zA-Z][\w+.-]*:")
_NAME_PREFIXES = ("async ", "new ")


class SourceMapError(ValueError):
    """A map that is not valid Source Map v3."""


def decode_vlq(segment: str) -> list[int]:
    """The signed integers of one Base64 VLQ segment: 'AAgBC' -> [0, 0, 16, 1]."""
    values: list[int] = []
    value = shift = 0
    for ch in segment:
        digit = _B64.get(ch)
        if digit is None:
            raise SourceMapError(f"invalid base64 VLQ character {ch!r}")
        value += (digit & 31) << shift
        if digit & 32:  # continuation bit
            shift += 5
        else:
            values.append(-(value >> 1) if value & 1 else value >> 1)
            value = shift = 0
    if shift:
        raise SourceMapError(f"truncated VLQ segment {segment!r}")
    return values


@dataclass(frozen=True)
class Mapping:
    """One decoded segment; lines and columns 0-based as in the format."""

    line: int
    column: int
    source: str | None  # sourceRoot + sources[i], not yet resolved against the map's location
    original_line: int
    original_column: int
    name: str | None


class SourceMap:
    """A decoded map: every segment sorted by generated position, found by binary search."""

    def __init__(self, mappings: list[Mapping]) -> None:
        self.mappings = sorted(mappings, key=lambda m: (m.line, m.column))
        self._keys = [(m.line, m.column) for m in self.mappings]

    @classmethod
    def parse(cls, data: str | bytes | dict[str, Any]) -> SourceMap:
        raw = data if isinstance(data, dict) else _loads(data)
        if not isinstance(raw, dict) or raw.get("version") != 3:
            raise SourceMapError("not a version 3 source map")
        if "sections" in raw:  # an index map: each section is a map of its own, offset in the generated file
            found: list[Mapping] = []
            for section in raw.get("sections") or []:
                offset, inner = section.get("offset") or {}, section.get("map")
                if not isinstance(inner, dict):
                    continue  # `url` sections were dropped from the spec (and Node does not read them)
                found.extend(_decode(inner, int(offset.get("line", 0)), int(offset.get("column", 0))))
            return cls(found)
        return cls(_decode(raw, 0, 0))

    def find(self, line: int, column: int) -> Mapping | None:
        """The mapping for a 0-based generated position, as Node's SourceMap.findEntry picks it; None if unmapped."""
        i = bisect_right(self._keys, (line, column)) - 1
        if i < 0:
            return None
        entry = self.mappings[i]
        return entry if entry.source is not None else None


def _loads(data: str | bytes) -> Any:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if text.startswith(")]}'"):  # the XSSI guard the spec allows before the JSON
        text = text.split("\n", 1)[1] if "\n" in text else ""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SourceMapError(f"not JSON: {exc}") from None


def _decode(raw: dict[str, Any], line_offset: int, column_offset: int) -> list[Mapping]:
    root = raw.get("sourceRoot") or ""
    sources = [None if s is None else f"{root}{s}" for s in raw.get("sources") or []]
    names = list(raw.get("names") or [])
    mappings = raw.get("mappings") or ""
    if not isinstance(mappings, str):
        raise SourceMapError("mappings is not a string")
    out: list[Mapping] = []
    source = original_line = original_column = name = 0  # these run on across lines; the column restarts per line
    for generated_line, text in enumerate(mappings.split(";")):
        column = 0
        for segment in text.split(","):
            if not segment:
                continue
            fields = decode_vlq(segment)
            column += fields[0]
            line = generated_line + line_offset
            shifted = column + (column_offset if generated_line == 0 else 0)
            if len(fields) == 1:
                out.append(Mapping(line, shifted, None, 0, 0, None))
                continue
            if len(fields) not in (4, 5):
                raise SourceMapError(f"segment {segment!r} has {len(fields)} fields")
            source += fields[1]
            original_line += fields[2]
            original_column += fields[3]
            symbol = None
            if len(fields) == 5:
                name += fields[4]
                symbol = names[name] if 0 <= name < len(names) else None
            src = sources[source] if 0 <= source < len(sources) else None
            out.append(Mapping(line, shifted, src, original_line, original_column, symbol))
    return out


# ---------------------------------------------------------------- finding a built file's map


@dataclass(frozen=True)
class LocatedMap:
    map: SourceMap
    base: str  # the map's directory relative to the generated file's directory ("." when beside it or inline)
    how: str  # "inline", "comment" or "sibling"


_MAPS: dict[str, tuple[tuple[tuple[Path, tuple[int, int] | None], ...], LocatedMap | None]] = {}
_REPO_PATHS: dict[tuple[str, str], str | None] = {}
_IGNORED: dict[tuple[str, str], bool] = {}
_WORK_TREES: dict[str, Path | None] = {}


def clear_caches() -> None:
    for cache in (_MAPS, _REPO_PATHS, _IGNORED, _WORK_TREES):
        cache.clear()


def _sig(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _map_url(path: Path) -> str | None:
    """The last sourceMappingURL comment of a JS file (Node reads the whole file too; an inline map can be megabytes)."""
    try:
        if path.stat().st_size > MAX_MAP_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    at = data.rfind(b"sourceMappingURL=")
    m = _URL_COMMENT.search(data, max(0, at - 8)) if at >= 0 else None
    return m["url"].decode("utf-8", "replace") if m else None


def locate_map(js: Path, repo: Path) -> LocatedMap | None:
    """The source map of a JS file in `repo`: its sourceMappingURL (inline or a file inside the repo), else `<file>.map`.

    Remembered until one of the files it was read from changes (size or mtime).
    """
    cached = _MAPS.get(str(js))
    if cached is not None and all(_sig(path) == sig for path, sig in cached[0]):
        return cached[1]
    sibling = js.with_name(js.name + ".map")
    watched = [(js, _sig(js)), (sibling, _sig(sibling))]
    located: LocatedMap | None = None
    try:
        url = _map_url(js)
        data = _DATA_URL.match(url) if url else None
        if data:
            located = LocatedMap(SourceMap.parse(base64.b64decode(data["data"], validate=False)), ".", "inline")
        elif url and not _SCHEME.match(url) and not url.startswith("/"):
            relative = unquote(url.split("?", 1)[0].split("#", 1)[0])
            named = js.parent / relative
            if named != sibling:
                watched.append((named, _sig(named)))
            located = _read_map_file(named, repo, posixpath.dirname(relative) or ".", "comment")
        if located is None:
            located = _read_map_file(sibling, repo, ".", "sibling")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        located = None  # a broken map is no map: the frame stays as printed
    if len(_MAPS) >= _CACHE_MAX:
        _MAPS.clear()
    _MAPS[str(js)] = (tuple(watched), located)
    return located


def _read_map_file(path: Path, repo: Path, base: str, how: str) -> LocatedMap | None:
    """A map file inside the repository, not too big; None when there is none."""
    sig = _sig(path)
    if sig is None or sig[1] > MAX_MAP_BYTES or not path.is_file() or not _inside(path, repo):
        return None
    try:
        return LocatedMap(SourceMap.parse(path.read_bytes()), base, how)
    except OSError:
        return None


def _inside(path: Path, repo: Path) -> bool:
    try:
        return path.resolve().is_relative_to(repo.resolve())
    except OSError:
        return False


# ---------------------------------------------------------------- frames


def repo_path(file: str, repo: Path) -> str | None:
    """`paths.to_repo_path`, remembered for the run (a trace repeats the same few files many times)."""
    key = (str(repo), file)
    if key not in _REPO_PATHS:
        if len(_REPO_PATHS) >= _CACHE_MAX:
            _REPO_PATHS.clear()
        _REPO_PATHS[key] = to_repo_path(file, repo)
    return _REPO_PATHS[key]


def _printed_path(file: str) -> str:
    return unquote(file[len("file://"):]) if file.startswith("file://") else file


def _resolve_source(printed: str, base: str, source: str) -> str:
    """Where Node would say `source` is: relative to the map, the map placed as the printed frame's file is."""
    if source.startswith("file://"):
        return unquote(source[len("file://"):])
    if _SCHEME.match(source) or source.startswith("/"):
        return source  # webpack://app/./src/x.ts and friends are printed as they are
    return posixpath.normpath(posixpath.join(posixpath.dirname(printed), base, source))


def _split_prefix(function: str) -> tuple[str, str]:
    for prefix in _NAME_PREFIXES:
        if function.startswith(prefix):
            return prefix, function[len(prefix):]
    return "", function


def map_frame(frame: Frame, caller: Frame | None, repo: Path) -> Frame | None:
    """The original-source frame for a frame in a built JS file of `repo`, or None (no map, or unmapped there)."""
    if frame.lang != "js" or frame.mapped_from or not frame.line or not (frame.in_app or frame.excluded):
        return None  # vendored (node_modules, node:internal) frames were never in-app
    rel = repo_path(frame.file, repo)
    if rel is None or not rel.endswith(JS_EXTENSIONS):
        return None
    located = locate_map(repo / rel, repo)
    if located is None:
        return None
    column = (frame.column or 1) - 1
    entry = located.map.find(frame.line - 1, column)
    if entry is None or entry.source is None:
        return None
    printed = _printed_path(frame.file)
    path = _resolve_source(printed, located.base, entry.source)
    prefix, name = _split_prefix(frame.function)
    # Node: the name the map holds at the caller's call site (same file), when it differs from V8's.
    if caller is not None and caller.file == frame.file and caller.line:
        at_call = located.map.find(caller.line - 1, (caller.column or 1) - 1)
        if at_call is not None and at_call.name:
            name = at_call.name
    where = f"{rel}:{frame.line}" + (f":{frame.column}" if frame.column else "")
    return replace(frame, file=path, line=entry.original_line + 1, column=entry.original_column + 1,
                   function=prefix + name, in_app=not is_vendored(path), mapped_from=where, excluded=None)


def ignored(repo: Path, paths: list[str]) -> set[str]:
    """Which repo-relative paths git ignores; unknown (no git, not a repository) counts as not ignored."""
    key_repo = str(repo)
    todo = sorted({p for p in paths if (key_repo, p) not in _IGNORED})
    if todo:
        found: set[str] = set()
        try:
            proc = subprocess.run(
                ["git", "check-ignore", "-z", "--stdin"], cwd=repo, input="\0".join(todo).encode() + b"\0",
                capture_output=True, timeout=GIT_TIMEOUT_S,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
            )
            if proc.returncode in (0, 1):  # 1: none of them is ignored
                found = {p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p}
        except (OSError, subprocess.SubprocessError):
            pass
        if len(_IGNORED) >= _CACHE_MAX:
            _IGNORED.clear()
        for p in todo:
            _IGNORED[(key_repo, p)] = p in found
    return {p for p in paths if _IGNORED.get((key_repo, p))}


def resolve_frames(frames: list[Frame], repo: Path) -> list[Frame]:
    """JS frames read back to their original source where a map says so; gitignored JS frames are not in-app.

    Python and Java frames are returned untouched. Idempotent: a mapped frame is not mapped again.
    """
    if not any(f.lang == "js" for f in frames):
        return frames
    out: list[Frame] = []
    for i, frame in enumerate(frames):
        caller = frames[i + 1] if i + 1 < len(frames) else None  # Node prints the throw site first
        mapped = map_frame(frame, caller, repo) if frame.lang == "js" else None
        out.append(mapped or frame)
    rels = {i: repo_path(f.file, repo) for i, f in enumerate(out) if f.lang == "js" and f.in_app}
    hidden = ignored(repo, [r for r in rels.values() if r])
    for i, rel in rels.items():
        if rel in hidden:
            line = out[i].line
            why = f"gitignored build output ({rel}, no source map for line {line})" if rel.endswith(JS_EXTENSIONS) else f"gitignored ({rel})"
            out[i] = replace(out[i], in_app=False, excluded=why)
    return out


def work_tree_of(path: str | None) -> Path | None:
    """The git work tree that holds `path` (a log file from the config), found by looking for `.git` upwards."""
    if not path:
        return None
    if path not in _WORK_TREES:
        start = Path(path).parent
        found = next((d for d in (start, *start.parents) if (d / ".git").exists()), None)
        if len(_WORK_TREES) >= _CACHE_MAX:
            _WORK_TREES.clear()
        _WORK_TREES[path] = found
    return _WORK_TREES[path]
