"""One failure, one occurrence: the records several loggers write for one failing request count once.

A failing request is often written three times: the stack on stderr (Express' final handler, an uncaught
exception), the application logger's JSON error line, and the HTTP logger's line once the response is
over (pino-http's "request errored", an access line with 500). Counted apart they triple the count, and
the HTTP logger's line, whose own "error" is pino-http's `failed with status code 500` thrown inside
node_modules, opens an issue nobody can fix.

The rule (within one read of one source; each record is used once):

1. **Same request id.** Records of one source that carry the same request id (`req.id` with the pid and
   host that number it, `reqId`, `request_id`, `x-request-id`, `request_id=` in text) within
   REQUEST_WINDOW_S of each other are one failure when they are the request's HTTP summary line or repeat
   the same error (type, message and frames). Other errors of that request stay events of their own.
2. **Same error, same second, different writer.** Records with the same exception type, message and
   frames, written by different writers (a writer is one file in one layout, JSON or text), one from
   each, are one failure when their times are at most SAME_ERROR_WINDOW_S apart, or when one of them
   has no time of its own (a bare stack on stderr). Two records from one writer are always two failures.
3. **A summary without a request id** (an access line, "request errored") attaches to the nearest
   error record at most SAME_ERROR_WINDOW_S away that has no summary yet, one with the same path first.

Of each failure the record with the most to say stays (a typed exception with in-app frames, its own time,
the request); it takes the others' request fields (path, method, status) and user where it has none, the
worst of their severities, and `request.also_logged` lists where the others were. Records that stay alone
are not touched.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from agent_cli.config import SEVERITIES
from agent_cli.detect.events import Event

REQUEST_WINDOW_S = 300.0
SAME_ERROR_WINDOW_S = 1.0
ALSO_LOGGED_KEPT = 5
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _time(event: Event) -> float | None:
    if not event.ts:
        return None
    try:
        when = datetime.fromisoformat(event.ts.replace(",", ".").replace(" ", "T", 1))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _signature(event: Event) -> tuple[object, ...] | None:
    if not event.exception_type or not event.frames:
        return None
    return (event.exception_type, event.exception_message or "", tuple((f.file, f.line, f.function) for f in event.frames[:8]))


def _writer(event: Event) -> tuple[str, bool]:
    return (event.path or "", event.raw.startswith("{"))


def _score(event: Event) -> tuple[bool, ...]:
    return (not event.http_summary, bool(event.exception_type), any(f.in_app for f in event.frames), event.ts is not None,
            "path" in event.request, event.user_id is not None)


def _absorb(keep: Event, other: Event) -> None:
    for key in ("path", "method", "status"):
        if key in other.request and key not in keep.request:
            keep.request[key] = other.request[key]
    if keep.user_id is None and other.user_id is not None:
        keep.user_id = other.user_id
    if other.severity in _RANK and (keep.severity not in _RANK or _RANK[other.severity] < _RANK[keep.severity]):
        keep.severity, keep.severity_rule = other.severity, other.severity_rule
    where = f"{other.path}:{other.line}" if other.path else other.source
    also = keep.request.setdefault("also_logged", [])
    if isinstance(also, list) and len(also) < ALSO_LOGGED_KEPT:
        also.append(where)


def one_failure_once(events: list[Event]) -> list[Event]:
    """The events with the records of one failure folded into one (see the module's rule). Order is kept."""
    if len(events) < 2:
        return events
    if len({_writer(e) for e in events}) < 2 and not any(e.http_summary or "request_id" in e.request for e in events):
        return events  # one writer, no request ids, no summaries: nothing can repeat another
    times = [_time(e) for e in events]
    gone: set[int] = set()

    def fold(keep: int, other: int) -> None:
        _absorb(events[keep], events[other])
        gone.add(other)

    # 1. Same request id.
    by_request: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        rid = e.request.get("request_id")
        if isinstance(rid, str) and rid:
            by_request[rid].append(i)
    for members in by_request.values():
        if len(members) < 2:
            continue
        keep = max(members, key=lambda i: _score(events[i]))
        signature = _signature(events[keep])
        for i in members:
            if i == keep:
                continue
            t, tk = times[i], times[keep]
            if t is not None and tk is not None and abs(t - tk) > REQUEST_WINDOW_S:
                continue
            if events[i].http_summary or (signature is not None and _signature(events[i]) == signature):
                fold(keep, i)
    # 2. Same error from different writers, within the second (or without a time of its own).
    by_signature: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        if i not in gone and (sig := _signature(e)) is not None:
            by_signature[sig].append(i)
    for members in by_signature.values():
        if len(members) < 2 or len({_writer(events[i]) for i in members}) < 2:
            continue
        clusters: list[list[int]] = []  # in order of creation; each holds at most one record per writer
        per_writer: dict[tuple[str, bool], list[int]] = defaultdict(list)
        for i in members:
            per_writer[_writer(events[i])].append(i)
        for writer, indices in per_writer.items():
            pointer = 0
            for i in indices:
                t = times[i]
                while pointer < len(clusters):
                    cluster = clusters[pointer]
                    anchor = next((times[j] for j in cluster if times[j] is not None), None)
                    taken = any(_writer(events[j]) == writer for j in cluster)
                    if not taken and (t is None or anchor is None or abs(t - anchor) <= SAME_ERROR_WINDOW_S):
                        break
                    if not taken and t is not None and anchor is not None and anchor > t + SAME_ERROR_WINDOW_S:
                        pointer = len(clusters)  # every later cluster is later still: start a new one
                        break
                    pointer += 1
                if pointer < len(clusters):
                    clusters[pointer].append(i)
                    pointer += 1
                else:
                    clusters.append([i])
                    pointer = len(clusters)
        for cluster in clusters:
            if len(cluster) > 1:
                keep = max(cluster, key=lambda i: _score(events[i]))
                for i in cluster:
                    if i != keep:
                        fold(keep, i)
    # 3. Summaries without a request id: to the nearest error of the same second.
    summaries = [i for i, e in enumerate(events) if i not in gone and e.http_summary and "request_id" not in e.request
                 and times[i] is not None]
    if summaries:
        errors: list[tuple[float, int]] = sorted((t, i) for i, (e, t) in enumerate(zip(events, times))
                                                 if t is not None and i not in gone and not e.http_summary and e.level in ("error", "critical"))
        keys = [t for t, _ in errors]
        attached: set[int] = set()
        for s in summaries:
            t = times[s]
            assert t is not None
            lo, hi = bisect.bisect_left(keys, t - SAME_ERROR_WINDOW_S), bisect.bisect_right(keys, t + SAME_ERROR_WINDOW_S)
            near = [i for _, i in errors[lo:hi] if i not in attached]
            if not near:
                continue
            path = events[s].request.get("path")
            near.sort(key=lambda i: (events[i].request.get("path") != path, abs((times[i] or 0.0) - t)))
            attached.add(near[0])
            fold(near[0], s)
    if not gone:
        return events
    return [e for i, e in enumerate(events) if i not in gone]


HELD_MAX = 5000  # records held back per source read to be matched; past this the batch is folded and passed on


def _foldable(event: Event, many_writers: bool) -> bool:
    if event.http_summary or "request_id" in event.request:
        return True
    # A stack another file may repeat; a typed error an HTTP summary of the same second may belong to.
    return bool(event.exception_type) and (many_writers and bool(event.frames) or event.level in ("error", "critical"))


class FailureFolder:
    """A collector in front of another (a scan's aggregator, or a list) that folds one failure's records into one.

    Records that could repeat another (a request id, an HTTP summary, a stack when the source has several files)
    are held until `flush` (the end of the source's read), at most HELD_MAX at a time, so memory stays bounded;
    every other record goes straight on. Forked readers collect into plain lists (`spawn`), added back by `extend`.
    """

    def __init__(self, target: Any, *, many_writers: bool) -> None:
        self.target = target
        self.many_writers = many_writers
        self.held: list[Event] = []
        self.in_place = isinstance(target, list)  # a list (--dry-run) holds every event anyway: folded at the end, in order

    def append(self, event: Event) -> None:
        if self.in_place:
            self.target.append(event)
        elif _foldable(event, self.many_writers):
            self.held.append(event)
            if len(self.held) >= HELD_MAX:
                self.flush()
        else:
            self.target.append(event)

    def extend(self, events: Any) -> None:
        if isinstance(events, FailureFolder):  # a forked reader's share (see spawn): its folded part, then what it held
            self.target.extend(events.target)
            events = events.held
        for event in events:
            self.append(event)

    def spawn(self) -> Any:
        # A forked reader folds into the target's own kind (an aggregator's spawn), so it sends back groups, not events.
        target_spawn = getattr(self.target, "spawn", None)
        if self.in_place or target_spawn is None:
            return []
        return FailureFolder(target_spawn(), many_writers=self.many_writers)

    def clear(self) -> None:
        self.held = []
        if hasattr(self.target, "clear"):
            self.target.clear()

    def flush(self) -> None:
        if self.in_place:
            self.target[:] = one_failure_once(self.target)
            return
        held, self.held = self.held, []
        for event in one_failure_once(held):
            self.target.append(event)
