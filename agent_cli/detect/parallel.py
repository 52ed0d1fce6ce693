"""Sharing CPU-bound scan work with one forked child (the machine has more than one core).

The child inherits the buffer copy-on-write, computes its share and sends the
result back pickled through a pipe; any failure of the child means the caller
does that share itself. Only pure computation runs in the child: it touches no
file, database or lock, and leaves with os._exit.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any, TypeVar

PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this a fork costs more than it saves
MAX_SAFE_SPLIT_SEARCH = 1024 * 1024

T = TypeVar("T")
U = TypeVar("U")


def can_fork(size: int) -> bool:
    return size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


def fork_map(in_child: Callable[[], T], in_parent: Callable[[], U]) -> tuple[U, T | None]:
    """Run `in_child` in a forked child and `in_parent` here; the child's result is None if it failed."""
    try:
        r, w = os.pipe()
        pid = os.fork()
    except OSError:
        return in_parent(), None
    if pid == 0:  # child
        code = 1
        try:
            os.close(r)
            data = memoryview(pickle.dumps(in_child(), protocol=pickle.HIGHEST_PROTOCOL))
            while data:
                data = data[os.write(w, data):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        mine = in_parent()
    finally:
        chunks = []
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
    theirs: Any = None
    if status == 0 and chunks:
        try:
            theirs = pickle.loads(b"".join(chunks))
        except Exception:  # a truncated result is no result
            theirs = None
    return mine, theirs


def safe_split(buf: bytes) -> int | None:
    """A line start near the middle where a new record surely begins (a timestamp or a JSON object)."""
    mid = len(buf) // 2
    limit = min(len(buf), mid + MAX_SAFE_SPLIT_SEARCH)
    pos = buf.find(b"\n", mid, limit)
    while pos != -1 and pos + 1 < limit:
        first = buf[pos + 1:pos + 2]
        if first.isdigit() or first == b"{":
            return pos + 1
        pos = buf.find(b"\n", pos + 1, limit)
    return None
