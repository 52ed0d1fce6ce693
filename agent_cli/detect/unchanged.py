"""Whether a scan would find anything new, decided from the cursors and a stat, without the parsers.

Cron runs `agent run` every five minutes and most cycles find nothing: the scan's parsing
(events, masking, record finding, severity, the miner) is not even imported then. Only file
sources can be judged this way: probes, commands and JUnit reports are read every time.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

from agent_cli.config import Settings, SourceConfig
from agent_cli.state import State
from agent_cli.store import scan as store_scan

HEAD_BYTES = 64


def expand_paths(source: SourceConfig, repo: Path) -> list[Path]:
    """The files a file or JUnit source's globs match now, sorted."""
    found: set[Path] = set()
    for pattern in source.paths:
        full = pattern if os.path.isabs(pattern) else str(repo / pattern)
        found.update(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return sorted(found)


def head_hash(f: Any, size: int) -> str:
    """`<n>:<sha1 of the first n bytes>`: tells a file replaced in place from the one a cursor was in."""
    n = min(size, HEAD_BYTES)
    f.seek(0)
    return f"{n}:{hashlib.sha1(f.read(n)).hexdigest()}"


def nothing_new(settings: Settings, state: State) -> bool:
    """True when every source is a file source whose files are exactly its cursors' files, unmoved, unreplaced, and read to
    their end (a held-back last line keeps the offset short of the size, so it is not 'nothing new')."""
    for source in settings.sources:
        if source.kind != "file":
            return False
        files = {str(f): f for f in expand_paths(source, settings.repo_path)}
        cursors = {c.path: c for c in store_scan.cursors(state, source.name)}
        if set(files) != set(cursors):  # a new file, or one gone (rotated)
            return False
        for name, path in files.items():
            cursor = cursors[name]
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    if (st.st_dev, st.st_ino, st.st_size) != (cursor.device, cursor.inode, cursor.offset) or cursor.skipping:
                        return False
                    if cursor.head_hash and head_hash(f, st.st_size) != cursor.head_hash:
                        return False
            except OSError:
                return False
    return True
