"""Grouping: Sentry-style fingerprints and normalised message templates.

The algorithm is versioned: every issue stores the version that created its
fingerprint, and a change of algorithm bumps FINGERPRINT_VERSION instead of
silently regrouping history.

Versions: 1 the first; 2 reads Node frames as the original source (source maps,
see agent_cli.sourcemap), leaves gitignored build output out of the in-app
frames and keys a Node trace on its innermost in-app frames (Node prints the
throw site first). Only traces with Node frames changed: every other basis is
what version 1 hashed, under the same salt, so their digests did not move.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from agent_cli.detect.events import THROW_SITE_FIRST, Event, Frame

FINGERPRINT_VERSION = 2
# The digest's salt stays what version 1 used: a basis that version 2 did not change keeps its digest.
_SALT = "v1"
FRAMES_IN_KEY = 8

# Order matters: the most specific shapes are masked first.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b"), "<hex>"),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""), "<str>"),
    (re.compile(r"(?<![\w<])(?:/[\w.@%+-]+){2,}/?"), "<path>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:ms|s|m|h|kb|mb|gb|b)?\b", re.IGNORECASE), "<num>"),
    (re.compile(r"\b[\w-]*\d[\w-]*\b"), "<id>"),  # request ids such as abc123
)
_SPACES = re.compile(r"\s+")
# Every mask treats all digits alike, so messages that differ only in their
# digits share a template: cache on the message with its digits zeroed.
_DIGITS_TABLE = str.maketrans("123456789", "000000000")
_CACHE: dict[str, str] = {}
_CACHE_MAX = 4096


def template(message: str) -> str:
    """The message with its variable parts masked: `user 42 at 10.0.0.1` -> `user <num> at <ip>`."""
    key = message.split("\n", 1)[0][:500].translate(_DIGITS_TABLE)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    text = key
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    text = _SPACES.sub(" ", text).strip()
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = text
    return text


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


def fingerprint(event: Event, repo: Path | None = None) -> tuple[str, str]:
    """(fingerprint, template) for an event. Resolves its Node frames first (see resolve_event_frames)."""
    resolve_event_frames(event, repo)
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
        basis = f"msg|{event.kind}|{event.level if event.level in ('warning',) else 'error+' if event.level in ('error', 'critical') else event.level}|{tmpl}"
    return _digest(basis), tmpl


def _digest(basis: str) -> str:
    found = _DIGESTS.get(basis)
    if found is None:
        if len(_DIGESTS) >= _CACHE_MAX:
            _DIGESTS.clear()
        found = _DIGESTS[basis] = hashlib.sha1(f"{_SALT}|{basis}".encode("utf-8", "replace")).hexdigest()[:16]
    return found
