"""Reading each kind of source: file (incremental), command, http probe, junit.

A reader returns a SourceRead: events, lines seen, errors (with reasons) and
the cursors to store. Readers never raise for bad input; they report it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.config import SourceConfig
from agent_cli.detect.events import Event, Frame, level_at_least, parse_block, parse_frames
from agent_cli.detect.parallel import can_fork, fork_map, safe_split
from agent_cli.detect.reader import MAX_LINE_BYTES, BufferScan, markers_for, scan_buffer

CHUNK_BYTES = 32 * 1024 * 1024
HEAD_BYTES = 64
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


def _head_hash(f: Any, size: int) -> str:
    n = min(size, HEAD_BYTES)
    f.seek(0)
    return f"{n}:{hashlib.sha1(f.read(n)).hexdigest()}"


def _same_file_start(f: Any, size: int, stored: str) -> bool:
    try:
        n = int(stored.split(":", 1)[0])
    except ValueError:
        return False
    if size < n:
        return False
    f.seek(0)
    return f"{n}:{hashlib.sha1(f.read(n)).hexdigest()}" == stored


def expand_paths(source: SourceConfig, repo: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in source.paths:
        full = pattern if os.path.isabs(pattern) else str(repo / pattern)
        found.update(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return sorted(found)


def _parse_buffer(buf: bytes, source: SourceConfig, *, path: str | None, base_offset: int, base_line: int, final: bool,
                  markers: tuple[bytes, ...]) -> tuple[list[Event], BufferScan]:
    scanned = scan_buffer(buf, markers, source.min_level, base_offset=base_offset, base_line=base_line, final=final)
    events: list[Event] = []
    for block in scanned.blocks:
        event = parse_block(block.text.decode("utf-8", "replace").rstrip("\r\n"), source=source.name, fmt=source.format)
        if not level_at_least(event.level, source.min_level):
            continue
        event.path, event.line = path, block.line
        events.append(event)
    scanned.blocks = []  # parsed; not needed further (and not worth pickling)
    return events, scanned


def _events_from_buffer(buf: bytes, source: SourceConfig, *, path: str | None, base_offset: int, base_line: int, final: bool,
                        markers: tuple[bytes, ...]) -> tuple[list[Event], BufferScan]:
    """Events of a buffer; a big one is split at a record boundary and half of it parsed in a forked child."""
    split = safe_split(buf) if can_fork(len(buf)) else None
    if split is None:
        return _parse_buffer(buf, source, path=path, base_offset=base_offset, base_line=base_line, final=final, markers=markers)
    first_lines = buf.count(b"\n", 0, split)
    mine, theirs = fork_map(
        lambda: _parse_buffer(buf[split:], source, path=path, base_offset=base_offset + split, base_line=base_line + first_lines,
                              final=final, markers=markers),
        # A new record starts at the split, so everything before it is complete: final=True.
        lambda: _parse_buffer(buf[:split], source, path=path, base_offset=base_offset, base_line=base_line, final=True,
                              markers=markers),
    )
    events, first = mine
    if theirs is None or first.consumed < split:
        return _parse_buffer(buf, source, path=path, base_offset=base_offset, base_line=base_line, final=final, markers=markers)
    more, second = theirs
    merged = BufferScan(consumed=split + second.consumed, lines=first.lines + second.lines, skipped=first.skipped + second.skipped)
    return events + more, merged


def read_file(source: SourceConfig, file: Path, cursor: Cursor | None, *, from_start: bool = False) -> tuple[list[Event], int, list[str], Cursor | None]:
    """New complete lines of one file since `cursor`. Returns (events, lines, errors, new cursor)."""
    markers = markers_for(source.min_level)
    errors: list[str] = []
    try:
        f = open(file, "rb")
    except OSError as exc:
        return [], 0, [f"{file}: cannot read: {exc.strerror or exc}"], cursor
    with f:
        st = os.fstat(f.fileno())
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
        events: list[Event] = []
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
            found, scanned = _events_from_buffer(buf, source, path=str(file), base_offset=carry_offset, base_line=line_no, final=at_eof, markers=markers)
            events.extend(found)
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
        new_cursor = Cursor(str(file), st.st_dev, st.st_ino, carry_offset, line_no, _head_hash(f, size), skipping)
    return events, lines, errors, new_cursor


def read_file_source(source: SourceConfig, repo: Path, cursors: dict[str, Cursor], *, from_start: bool = False, only: Path | None = None) -> SourceRead:
    result = SourceRead(source.name, source.kind)
    files = [only] if only is not None else expand_paths(source, repo)
    if not files:
        result.errors.append(f"no file matches {', '.join(source.paths)}")
    for file in files:
        events, lines, errors, cursor = read_file(source, file, cursors.get(str(file)), from_start=from_start)
        result.events.extend(events)
        result.lines += lines
        result.errors.extend(errors)
        if cursor is not None:
            result.cursors.append(cursor)
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
    import httpx

    result = SourceRead(source.name, source.kind, lines=1)
    own = client is None
    client = client or httpx.Client(timeout=source.timeout_s, follow_redirects=False)
    started = time.perf_counter()
    problem, down, status = None, False, None
    try:
        response = client.request(source.method, source.url, timeout=source.timeout_s)
        latency_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        if status not in source.expect_status:
            problem, down = f"returned HTTP {status}", status >= 500
        elif latency_ms > source.max_latency_ms:
            problem = f"slow (over {source.max_latency_ms:.0f} ms)"
        elif source.expect_json:
            try:
                body = response.json()
            except ValueError:
                body = None
            wrong = [k for k, v in source.expect_json.items() if not isinstance(body, dict) or body.get(k) != v]
            if wrong:
                problem = f"body check failed for {', '.join(wrong)}"
    except httpx.TimeoutException:
        problem, down = f"no answer within {source.timeout_s:g}s", True
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        problem, down = f"down: {reason[:200]}", True
    finally:
        if own:
            client.close()
    if problem:
        message = f"health probe {source.method} {source.url} {problem}"
        raw = f"{message} (after {(time.perf_counter() - started) * 1000:.0f} ms)"
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
