"""Grouping: Sentry-style fingerprints and normalised message templates.

The algorithm is versioned: every issue stores the version that created its
fingerprint, and a change of algorithm bumps FINGERPRINT_VERSION instead of
silently regrouping history.

Versions: 1 the first; 2 reads Node frames as the original source (source maps,
see agent_cli.sourcemap), leaves gitignored build output out of the in-app
frames and keys a Node trace on its innermost in-app frames (Node prints the
throw site first). Only traces with Node frames changed: every other basis is
what version 1 hashed, under the same salt, so their digests did not move.

Version 3 (grouping v2) changes only log messages without an exception type:
header layout stripped (syslog heads, bracketed thread names of any length and
nesting, the logger name after them, a level word past column 80), masks for
every variable class named in template_v2, then a Drain-style miner
(agent_cli.detect.miner) whose cluster names the group. Traces, typed errors
and probes hash what they always did. A message issue made by versions 1-2 is
found again through `legacy_fingerprint` (see detect.scan: fingerprint_links).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from agent_cli.detect.events import THROW_SITE_FIRST, Event, Frame
from agent_cli.detect.masking import template, template_v2
from agent_cli.detect.miner import TemplateMiner

FINGERPRINT_VERSION = 3
LEGACY_VERSIONS = (1, 2)  # versions whose message issues are matched through legacy_fingerprint
# The digest's salt stays what version 1 used: a basis that version 2 did not change keeps its digest.
_SALT = "v1"
FRAMES_IN_KEY = 8
_CACHE_MAX = 4096

_FRAME_KEYS: dict[tuple[str, str], str] = {}
_DIGESTS: dict[str, str] = {}


def _frame_key(frame: Frame) -> str:
    key = (frame.file, frame.function)
    found = _FRAME_KEYS.get(key)
    if found is None:
        if len(_FRAME_KEYS) >= _CACHE_MAX:
            _FRAME_KEYS.clear()
        found = _FRAME_KEYS[key] = _frame_key_of(frame.file, frame.function)
    return found


def _frame_key_of(file: str, function: str) -> str:
    # Module/function, never line numbers: an edit above the bug must not regroup it.
    path = file.replace("\\", "/")
    for marker in ("/app/", "/var/task/", "/src/", "/srv/"):
        if marker in path:
            path = path.rsplit(marker, 1)[1]
    parts = path.split("/")
    short = "/".join(parts[-2:])
    short = re.sub(r"\.(py|js|mjs|cjs|ts|tsx|jsx|java|kt|rb|go)$", "", short)
    return f"{short}:{function}"


def resolve_event_frames(event: Event, repo: Path | None = None) -> None:
    """Node frames of the event read back to their original source, build output out of the app (in place).

    `repo` is the application's checkout; without one, the git work tree that holds the event's log file
    (`[[sources]] paths` usually point into it). Events without Node frames are not touched.
    """
    if not any(f.lang == "js" for f in event.frames):
        return
    from agent_cli import sourcemap

    root = repo if repo is not None else sourcemap.work_tree_of(event.path)
    if root is not None:
        event.frames = sourcemap.resolve_frames(event.frames, root)


def _key_frames(frames: list[Frame]) -> list[Frame]:
    if frames[0].lang in THROW_SITE_FIRST:
        return frames[:FRAMES_IN_KEY]  # printed throw site first: the innermost frames, as printed
    return frames[-FRAMES_IN_KEY:]


def _level_class(level: str) -> str:
    return level if level in ("warning",) else "error+" if level in ("error", "critical") else level


def message_prefix(event: Event) -> str | None:
    """The basis prefix of an event grouped on its message by version 3 (a log line without an exception type), else None."""
    if event.kind != "log" or event.exception_type:
        return None
    return f"msg|{event.kind}|{_level_class(event.level)}"


def message_fingerprint(prefix: str, cluster_key: str) -> str:
    """Version 3's digest of a message event: its prefix and the key of its template cluster."""
    return _digest(f"{prefix}|v3|{cluster_key}")


def legacy_fingerprint(event: Event) -> str | None:
    """The digest versions 1 and 2 gave this event when version 3 gives another (a message event), else None."""
    prefix = message_prefix(event)
    return None if prefix is None else _digest(f"{prefix}|{template(event.grouping_text)}")


def fingerprint(event: Event, repo: Path | None = None, miner: TemplateMiner | None = None) -> tuple[str, str]:
    """(fingerprint, template) for an event. Resolves its Node frames first (see resolve_event_frames).

    A message event (see message_prefix) is masked by template_v2 and then mined with `miner`; without one,
    its masked text is its cluster, as a fresh miner would make it.
    """
    resolve_event_frames(event, repo)
    prefix = message_prefix(event)
    if prefix is not None:
        masked = template_v2(event.grouping_text)
        if miner is None:
            return message_fingerprint(prefix, masked), masked
        cluster = miner.match(masked)
        return message_fingerprint(prefix, cluster.key), cluster.template
    # A probe's message is already stable (one URL, one kind of failure) and its
    # status code matters, so it is not masked.
    tmpl = event.message if event.kind == "probe" else template(event.grouping_text)
    if event.exception_type:
        frames = [f for f in event.frames if f.in_app] or event.frames
        if frames:
            # Same type thrown through the same code = same bug, whatever the message says.
            basis = "exc|" + event.exception_type + "|" + "|".join(_frame_key(f) for f in _key_frames(frames))
        else:
            basis = "exc|" + event.exception_type + "|" + tmpl
    else:
        basis = f"msg|{event.kind}|{_level_class(event.level)}|{tmpl}"
    return _digest(basis), tmpl


def _digest(basis: str) -> str:
    found = _DIGESTS.get(basis)
    if found is None:
        if len(_DIGESTS) >= _CACHE_MAX:
            _DIGESTS.clear()
        found = _DIGESTS[basis] = hashlib.sha1(f"{_SALT}|{basis}".encode("utf-8", "replace")).hexdigest()[:16]
    return found
