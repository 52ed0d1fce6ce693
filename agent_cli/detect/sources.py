"""Reading each kind of source: file (incremental), command, http probe, junit.

A reader returns a SourceRead: events, lines seen, errors (with reasons) and
the cursors to store. Readers never raise for bad input; they report it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_cli import clock
from agent_cli.config import SourceConfig
from agent_cli.detect.events import Event, Frame, level_at_least, parse_block, parse_frames
from agent_cli.detect.linking import FailureFolder
from agent_cli.detect.parallel import can_fork, fork_map, safe_split
from agent_cli.detect.record_finder import MAX_LINE_BYTES, BufferScan, markers_for, scan_buffer
from agent_cli.detect.unchanged import HEAD_BYTES, expand_paths, head_hash  # noqa: F401  (expand_paths: part of this module's face)

CHUNK_BYTES = 8 * 1024 * 1024  # a chunk's candidate lines and records are held at once: this bounds them
MAX_JUNIT_BYTES = 64 * 1024 * 1024
MAX_COMMAND_OUTPUT = 256 * 1024 * 1024


@dataclass
class Cursor:
    path: str
    device: int
    inode: int
    offset: int
    line_no: int
    head_hash: str
    skipping: bool = False  # inside an oversized line: skip to its newline


@dataclass
class SourceRead:
    name: str
    kind: str
    events: list[Event] = field(default_factory=list)
    lines: int = 0
    errors: list[str] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # cursor paths whose file is gone (rotated away and finished)


def _same_file_start(f: Any, size: int, stored: str) -> bool:
    try:
        n = int(stored.split(":", 1)[0])
    except ValueError:
        return False
    if size < n:
        return False
    f.seek(0)
    return f"{n}:{hashlib.sha1(f.read(n)).hexdigest()}" == stored


def _parse_buffer(buf: bytes, source: SourceConfig, *, path: str | None, base_offset: int, base_line: int, final: bool,
                  markers: tuple[bytes, ...], into: Any = None) -> tuple[Any, BufferScan]:
    """Events of a buffer, appended to `into` (default: a new list; a scan passes an aggregator, see detect.scan)."""
    scanned = scan_buffer(buf, markers, source.min_level, base_offset=base_offset, base_line=base_line, final=final)
    events: Any = [] if into is None else into
    for block in scanned.blocks:
        try:
            event = parse_block(block.text.decode("utf-8", "replace").rstrip("\r\n"), source=source.name, fmt=source.format)
            if not level_at_least(event.level, source.min_level):
                continue
        except Exception as exc:  # RecursionError included: a poison record is reported and passed, never retried
            scanned.skipped.append(f"line {block.line}: record cannot be parsed ({type(exc).__name__}: {str(exc)[:200]}); skipped")
            continue
        event.path, event.line = path, block.line
        events.append(event)
    scanned.blocks = []  # parsed; not needed further (and not worth pickling)
    return events, scanned


def _events_from_buffer(buf: bytes, source: SourceConfig, *, path: str | None, base_offset: int, base_line: int, final: bool,
                        markers: tuple[bytes, ...], into: Any = None) -> tuple[Any, BufferScan]:
    """Events of a buffer; a big one is split at a record boundary and half of it parsed in a forked child.

    `into` collects the events (default: a new list). Each half fills a fresh collector of the same kind
    (`into.spawn()`, a list for a list); the halves are added to `into` in order once both are done.
    """
    split = safe_split(buf) if can_fork(len(buf)) else None
    if split is None:
        return _parse_buffer(buf, source, path=path, base_offset=base_offset, base_line=base_line, final=final, markers=markers, into=into)
    target: Any = [] if into is None else into
    spawn = getattr(target, "spawn", list)
    first_lines = buf.count(b"\n", 0, split)
    mine, theirs = fork_map(
        lambda: _parse_buffer(buf[split:], source, path=path, base_offset=base_offset + split, base_line=base_line + first_lines,
                              final=final, markers=markers, into=spawn()),
        # A new record starts at the split, so everything before it is complete: final=True.
        lambda: _parse_buffer(buf[:split], source, path=path, base_offset=base_offset, base_line=base_line, final=True,
                              markers=markers, into=spawn()),
    )
    events, first = mine
    if theirs is None or first.consumed < split:
        return _parse_buffer(buf, source, path=path, base_offset=base_offset, base_line=base_line, final=final, markers=markers, into=into)
    more, second = theirs
    merged = BufferScan(consumed=split + second.consumed, lines=first.lines + second.lines, skipped=first.skipped + second.skipped)
    target.extend(events)
    target.extend(more)
    return target, merged


def read_file(source: SourceConfig, file: Path, cursor: Cursor | None, *, from_start: bool = False,
              settle_s: float | None = None, into: Any = None) -> tuple[Any, int, list[str], Cursor | None]:
    """New complete lines of one file since `cursor`. Returns (events, lines, errors, new cursor).

    `into` collects the events as they are parsed (default: a new list, returned as `events`).

    A last line without a newline is read too once the file has not changed for `settle_s`
    seconds (None: at once, as --dry-run does). The cursor then sits just after it with
    `skipping` set, so when the writer later completes that line its rest is passed over,
    never reported a second time.
    """
    markers = markers_for(source.min_level)
    errors: list[str] = []
    try:
        # O_NONBLOCK: opening a FIFO that slipped in never hangs the scan; it is refused below.
        f = open(file, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0)))
    except OSError as exc:
        return [], 0, [f"{file}: cannot read: {exc.strerror or exc}"], cursor
    with f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return [], 0, [f"{file}: not a regular file; skipped"], cursor
        size = st.st_size
        offset, line_no, skipping = 0, 0, False
        if cursor is not None and not from_start:
            rotated = (cursor.device, cursor.inode) != (st.st_dev, st.st_ino)
            truncated = size < cursor.offset
            replaced = not rotated and not truncated and cursor.offset > 0 and not _same_file_start(f, size, cursor.head_hash)
            if rotated or truncated or replaced:
                why = "rotated" if rotated else "truncated" if truncated else "replaced"
                errors.append(f"{file}: {why}; reading from the start")
            else:
                offset, line_no, skipping = cursor.offset, cursor.line_no, cursor.skipping
        events: Any = [] if into is None else into
        lines = 0
        f.seek(offset)
        carry = b""
        carry_offset = offset
        while True:
            chunk = f.read(CHUNK_BYTES)
            at_eof = len(chunk) < CHUNK_BYTES
            if skipping:
                nl = chunk.find(b"\n")
                if nl == -1:
                    offset += len(chunk)
                    carry_offset = offset
                    if at_eof:
                        break
                    continue
                offset += nl + 1
                line_no += 1
                lines += 1
                chunk = chunk[nl + 1:]
                carry_offset = offset
                skipping = False
            buf = carry + chunk
            if not buf:
                break
            _, scanned = _events_from_buffer(buf, source, path=str(file), base_offset=carry_offset, base_line=line_no, final=at_eof,
                                             markers=markers, into=events)
            errors.extend(f"{file}: {s}" for s in scanned.skipped)
            lines += scanned.lines
            line_no += scanned.lines
            carry = buf[scanned.consumed:]
            carry_offset += scanned.consumed
            if len(carry) > MAX_LINE_BYTES and carry.find(b"\n") == -1:
                # One line longer than we will ever parse: skip it up to its newline.
                errors.append(f"{file}: line {line_no + 1}: line longer than {MAX_LINE_BYTES} bytes skipped")
                carry_offset += len(carry)
                carry = b""
                skipping = True
                continue
            if at_eof:
                break
        if carry and not skipping and (settle_s is None or clock.current().now().timestamp() - st.st_mtime >= settle_s):
            found, scanned = _events_from_buffer(carry + b"\n", source, path=str(file), base_offset=carry_offset, base_line=line_no,
                                                 final=True, markers=markers, into=getattr(events, "spawn", list)())
            if scanned.consumed == len(carry) + 1:
                events.extend(found)
                errors.extend(f"{file}: {s}" for s in scanned.skipped)
                # The unfinished line itself is counted when its newline arrives (see `skipping`).
                lines += scanned.lines - 1
                line_no += scanned.lines - 1
                carry_offset += len(carry)
                skipping = True
        new_cursor = Cursor(str(file), st.st_dev, st.st_ino, carry_offset, line_no, head_hash(f, size), skipping)
    return events, lines, errors, new_cursor


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, size) of a regular file, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size) if stat.S_ISREG(st.st_mode) else None


def _head_matches(path: Path, stored: str, min_size: int) -> bool:
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0))) as f:
            size = os.fstat(f.fileno()).st_size
            return size >= min_size and _same_file_start(f, size, stored)
    except OSError:
        return False


class _Neighbours:
    """Regular files in the directories of rotated files, listed once per read."""

    def __init__(self) -> None:
        self._dirs: dict[str, list[tuple[Path, tuple[int, int, int]]]] = {}

    def of(self, cursor_path: str) -> list[tuple[Path, tuple[int, int, int]]]:
        folder = os.path.dirname(cursor_path) or "."
        if folder not in self._dirs:
            found: list[tuple[Path, tuple[int, int, int]]] = []
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        ident = _identity(Path(entry.path))
                        if ident is not None:
                            found.append((Path(entry.path), ident))
            except OSError:
                pass
            self._dirs[folder] = found
        return self._dirs[folder]


def plan_file_reads(files: list[Path], cursors: dict[str, Cursor]) -> tuple[list[tuple[Path, Cursor | None, bool, str | None]], list[str]]:
    """Which cursor each file continues from, rotated files first. Returns (reads, cursor paths to forget).

    A read is (file, cursor, keep its cursor, note). Cursors follow file identity (device, inode):
    a file renamed to another matching name continues from its offset, a rotated file found under
    another name in its directory is finished from its offset (its cursor is then forgotten), and
    after copytruncate the copy (same first bytes, at least as long) is finished from the old offset.
    """
    idents = {f: _identity(f) for f in files}
    by_id = {(c.device, c.inode): c for c in cursors.values()}
    glob_ids = {(i[0], i[1]): f for f, i in idents.items() if i is not None}
    first: list[tuple[Path, Cursor | None, bool, str | None]] = []
    rest: list[tuple[Path, Cursor | None, bool, str | None]] = []
    taken: set[Path] = set()  # files already planned
    claimed: set[str] = set()  # cursor paths whose file was found somewhere
    forget: list[str] = []
    notes: dict[str, str] = {}
    neighbours = _Neighbours()
    # 1. Files at a new name that still match the glob: continue them from their old offset.
    for f, ident in idents.items():
        c = by_id.get((ident[0], ident[1])) if ident else None
        if c is not None and c.path != str(f):
            first.append((f, c, True, None))
            taken.add(f)
            claimed.add(c.path)
    # 2. Cursors whose file left the glob: finish it where it went (same directory), then forget it.
    for c in cursors.values():
        if (c.device, c.inode) in glob_ids:
            continue
        found = next((p for p, i in neighbours.of(c.path) if (i[0], i[1]) == (c.device, c.inode) and p not in idents), None)
        if found is not None and str(found) != c.path:
            first.append((found, Cursor(str(found), c.device, c.inode, c.offset, c.line_no, c.head_hash, c.skipping), False, None))
            claimed.add(c.path)
            notes[c.path] = f"{c.path}: rotated to {found.name}; finished it, reading the new file from the start"
        if Path(c.path) not in idents:
            forget.append(c.path)
    # 3. copytruncate: a tracked file now shorter than its offset (or with other first bytes) and an
    #    untracked copy that starts like it: finish the copy from the old offset.
    for f, ident in idents.items():
        c = cursors.get(str(f))
        if ident is None or c is None or (c.device, c.inode) != (ident[0], ident[1]) or c.offset == 0:
            continue
        if ident[2] >= c.offset and _head_matches(f, c.head_hash, c.offset):
            continue
        candidates = [(p, i) for p, i in idents.items() if i is not None and p not in taken and (i[0], i[1]) not in by_id
                      and str(p) not in cursors]
        candidates += [(p, i) for p, i in neighbours.of(c.path) if p not in idents and (i[0], i[1]) not in by_id]
        copy = next((p for p, i in candidates if i[2] >= c.offset and _head_matches(p, c.head_hash, c.offset)), None)
        if copy is not None:
            keep = copy in idents
            i = idents.get(copy) or _identity(copy)
            if i is None:
                continue
            first.append((copy, Cursor(str(copy), i[0], i[1], c.offset, c.line_no, c.head_hash, c.skipping), keep, None))
            taken.add(copy)
            notes[str(f)] = f"{f}: copied to {copy.name} and truncated; finished the copy, reading this file from the start"
            cursors[str(f)] = Cursor(c.path, c.device, c.inode, 0, 0, "", False)
    for f in files:
        if f in taken:
            continue
        c = cursors.get(str(f))
        if c is not None and str(f) in claimed and (c.device, c.inode) in by_id and (c.device, c.inode) != (idents[f] or (0, 0, 0))[:2]:
            # The old file at this name was found and finished elsewhere: this one is new.
            rest.append((f, None, True, notes.get(str(f))))
        else:
            rest.append((f, c, True, notes.get(str(f))))
    return first + rest, forget


def read_file_source(source: SourceConfig, repo: Path, cursors: dict[str, Cursor], *, from_start: bool = False, only: Path | None = None,
                     settle_s: float | None = None, into: Any = None) -> SourceRead:
    """The source's new lines; events go to `result.events`, or to `into` as they are parsed (a scan's aggregator)."""
    result = SourceRead(source.name, source.kind)
    files = [only] if only is not None else expand_paths(source, repo)
    if not files:
        result.errors.append(f"no file matches {', '.join(source.paths)}")
    if from_start or only is not None:
        plan: list[tuple[Path, Cursor | None, bool, str | None]] = [(f, cursors.get(str(f)), True, None) for f in files]
    else:
        plan, result.forget = plan_file_reads(files, dict(cursors))
    # Records of one failure written by several loggers (a stack on stderr, the JSON line, the HTTP logger's) count once.
    folder = FailureFolder(into if into is not None else result.events, many_writers=len(plan) > 1)
    for file, start, keep, note in plan:
        if note:
            result.errors.append(note)
        try:
            events, lines, errors, cursor = read_file(source, file, start, from_start=from_start, settle_s=settle_s, into=folder)
        except Exception as exc:  # one file must not take the source's other files down
            result.errors.append(f"{file}: cannot be read: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        result.lines += lines
        result.errors.extend(errors)
        if cursor is not None and keep:
            result.cursors.append(cursor)
    folder.flush()
    return result


def read_command_source(source: SourceConfig) -> SourceRead:
    result = SourceRead(source.name, source.kind)
    argv = source.command if isinstance(source.command, list) else shlex.split(source.command)
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=source.timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        result.errors.append(f"command timed out after {source.timeout_s:g}s: {' '.join(argv)}")
        return result
    except OSError as exc:
        result.errors.append(f"command could not start: {exc.strerror or exc}: {argv[0]}")
        return result
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        result.errors.append(f"command exited {proc.returncode}: {tail[0][:200]}")
        return result
    buf = proc.stdout[:MAX_COMMAND_OUTPUT]
    if buf and not buf.endswith(b"\n"):
        buf += b"\n"
    found, scanned = _events_from_buffer(buf, source, path=None, base_offset=0, base_line=0, final=True, markers=markers_for(source.min_level))
    result.events, result.lines = found, scanned.lines
    result.errors.extend(scanned.skipped)
    return result


def read_http_source(source: SourceConfig, client: Any = None) -> SourceRead:
    """One probe: down, wrong status, slow, or a JSON body that does not match become events."""
    from agent_cli.probe import probe

    result = SourceRead(source.name, source.kind, lines=1)
    reading = probe(source.url, method=source.method, timeout_s=source.timeout_s, client=client, want_json=bool(source.expect_json))
    problem, down, status = None, False, reading.status
    if status is None:
        problem, down = reading.error, True
    elif status not in source.expect_status:
        problem, down = f"returned HTTP {status}", status >= 500
    elif reading.latency_ms > source.max_latency_ms:
        problem = f"slow (over {source.max_latency_ms:.0f} ms)"
    elif source.expect_json:
        body = reading.body
        wrong = [k for k, v in source.expect_json.items() if not isinstance(body, dict) or body.get(k) != v]
        if wrong:
            problem = f"body check failed for {', '.join(wrong)}"
    if problem:
        message = f"health probe {source.method} {source.url} {problem}"
        raw = f"{message} (after {reading.latency_ms:.0f} ms)"
        event = Event(source=source.name, level="critical" if down else "error", message=message, raw=raw, kind="probe",
                      request={"path": source.url, "method": source.method, "status": status, "down": down})
        result.events.append(event)
    return result


def read_junit_source(source: SourceConfig, repo: Path, cursors: dict[str, Cursor], *, from_start: bool = False, only: Path | None = None) -> SourceRead:
    """Failed and errored test cases of JUnit XML reports; a report is read once per content."""
    import xml.etree.ElementTree as ET

    result = SourceRead(source.name, source.kind)
    for file in [only] if only is not None else expand_paths(source, repo):
        try:
            data = file.read_bytes() if file.stat().st_size <= MAX_JUNIT_BYTES else None
        except OSError as exc:
            result.errors.append(f"{file}: cannot read: {exc.strerror or exc}")
            continue
        if data is None:
            result.errors.append(f"{file}: larger than {MAX_JUNIT_BYTES} bytes; skipped")
            continue
        st = file.stat()
        digest = "sha1:" + hashlib.sha1(data).hexdigest()
        old = cursors.get(str(file))
        cursor = Cursor(str(file), st.st_dev, st.st_ino, len(data), 0, digest)
        result.cursors.append(cursor)
        if old is not None and old.head_hash == digest and not from_start:
            continue
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            result.errors.append(f"{file}: not valid JUnit XML: {exc}")
            continue
        for case in root.iter("testcase"):
            result.lines += 1
            for tag in ("failure", "error"):
                node = case.find(tag)
                if node is None:
                    continue
                text = (node.text or "").strip()
                exc_type = node.get("type") or ("AssertionError" if tag == "failure" else "Error")
                message = (node.get("message") or text.split("\n", 1)[0])[:2000]
                frames: list[Frame] = parse_frames(text.split("\n"))
                name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
                event = parse_block(text, source=source.name) if text else None
                result.events.append(Event(
                    source=source.name, level="error", message=f"test {name} {tag}: {message}", raw=text[:8192] or message,
                    path=str(file), exception_type=(event.exception_type if event and event.exception_type else exc_type.rsplit(".", 1)[-1] if "." in exc_type else exc_type),
                    frames=frames, kind="test", request={"test": name},
                ))
                break
    return result
