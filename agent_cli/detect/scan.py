"""`agent scan`: read every source, group events into issues, write one transaction."""

from __future__ import annotations

import json
import stat
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from agent_cli import clock, outbox, transitions
from agent_cli.config import Settings, SourceConfig
from agent_cli.detect import related
from agent_cli.detect import severity as sev
from agent_cli.detect.events import Event, build_output_reason, throw_site_first
from agent_cli.detect.fingerprint import FINGERPRINT_VERSION, LEGACY_VERSIONS, fingerprint, legacy_fingerprint, message_fingerprint, message_prefix
from agent_cli.detect.miner import TemplateMiner
from agent_cli.detect.scan_result import ScanResult
from agent_cli.detect.sources import (
    Cursor,
    SourceRead,
    read_command_source,
    read_file_source,
    read_http_source,
    read_junit_source,
)
from agent_cli.errors import ConfigError
from agent_cli.paths import matching_glob, to_repo_path
from agent_cli.runner import Run
from agent_cli.state import State, utcnow
from agent_cli.store import issues as store_issues
from agent_cli.store import scan as store_scan

SAMPLES_PER_ISSUE = 20
PATHS_PER_ISSUE = 20
SOURCE_ERRORS_KEPT = 1000
PATHS_KEPT = 2 * PATHS_PER_ISSUE  # an issue's old paths plus the smallest new ones fill request_paths
MAX_5XX_HITS = 10_000  # 5xx (time, path) pairs one issue keeps per scan for the distinct-paths rule


def select_sources(settings: Settings, names: list[str] | None) -> list[SourceConfig]:
    if not names:
        return list(settings.sources)
    known = {s.name: s for s in settings.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown source {', '.join(unknown)}; configured: {', '.join(known) or 'none'}")
    return [known[n] for n in names]


def _load_cursors(state: State, source: str) -> dict[str, Cursor]:
    return {r.path: Cursor(r.path, r.device, r.inode, r.offset, r.line_no, r.head_hash or "", r.skipping) for r in store_scan.cursors(state, source)}


def settle_seconds(settings: Settings) -> float:
    """`[scan] settle_s`: how long a file must stay unchanged before its unfinished last line is read."""
    return float(settings.scan.settle_s)


def read_source(settings: Settings, source: SourceConfig, cursors: dict[str, Cursor], *, from_start: bool = False, only: Path | None = None,
                into: Aggregator | None = None) -> SourceRead:
    """Read one source; an unexpected failure becomes a source error, never a crash of the scan.

    With `into`, a file source's events are folded into that aggregator as they are parsed (`read.events`
    stays empty); other kinds still return their (few) events in `read.events`.
    """
    try:
        if source.kind == "file":
            return read_file_source(source, settings.repo_path, cursors, from_start=from_start, only=only,
                                    settle_s=None if from_start else settle_seconds(settings), into=into)
        if source.kind == "junit":
            return read_junit_source(source, settings.repo_path, cursors, from_start=from_start, only=only)
        if source.kind == "command":
            return read_command_source(source)
        return read_http_source(source)
    except Exception as exc:  # a source must not take the others down
        if into is not None:
            into.clear()  # nothing of a failed source is recorded, as its cursors are not
        return SourceRead(source.name, source.kind, errors=[f"source failed: {type(exc).__name__}: {exc}"])


def classify(settings: Settings, event: Event, repo: Path | None = None, miner: TemplateMiner | None = None) -> None:
    """Fingerprint and severity of one event; `repo` saves resolving settings.repo_path once per event.

    A message event is mined with `miner` (see detect.fingerprint); without one its masked text is its cluster.
    """
    event.fingerprint, event.template = fingerprint(event, repo=settings.repo_path if repo is None else repo, miner=miner)
    verdict = sev.classify(event, settings.severity.rules)
    event.severity, event.severity_rule = verdict.severity, verdict.rule


def _parse_when(event: Event) -> datetime | None:
    """The event's own time, or None when it has none (it is then stamped with the time the scan stores it)."""
    if event.ts:
        try:
            ts = datetime.fromisoformat(event.ts.replace(",", ".").replace(" ", "T", 1))
            return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return None


def _auto_fixable(settings: Settings, event: Event) -> tuple[bool, str, str | None]:
    if event.kind == "probe":
        return False, "a failed health probe has no stack trace to fix", None
    in_app = [f for f in event.frames if f.in_app]
    if not event.frames:
        return False, "no stack trace", None
    if not in_app:
        built = build_output_reason(event.frames)
        if built:  # gitignored build output (dist/*.js without a map) is never the thing to fix
            return False, built, None
    for frame in throw_site_first(in_app):  # deepest in-app frame first, in the language's own order
        repo_path = to_repo_path(frame.file, settings.repo_path)
        if repo_path is None:
            continue
        culprit = f"{repo_path}:{frame.line}" if frame.line else repo_path
        rule = matching_glob(repo_path, settings.policy.protected_paths)
        if rule:
            return False, f"culprit {repo_path} is protected (policy.protected_paths {rule!r})", culprit
        return True, f"in-repo frame {culprit} in {frame.function}", culprit
    return False, build_output_reason(event.frames) or "no stack frame maps to a file in the repository", None


def scan(run: Run, *, source_names: list[str] | None = None) -> ScanResult:
    settings, state = run.settings, run.state
    result = ScanResult()
    reads: list[tuple[SourceRead, Aggregator]] = []
    repo = settings.repo_path
    miner = TemplateMiner.load(state)
    legacy = _legacy_fingerprints(state)
    for source in select_sources(settings, source_names):
        cursors = _load_cursors(state, source.name) if source.kind in ("file", "junit") else {}
        # Events are folded per fingerprint while they are read: memory follows issues, not events.
        aggregate = Aggregator(settings, repo, miner=miner, legacy=legacy)
        read = read_source(settings, source, cursors, into=aggregate)
        aggregate.extend(read.events)  # the kinds that return their events (command, http, junit)
        read.events = []
        read.errors.extend(aggregate.errors)
        reads.append((read, aggregate))
        result.sources[source.name] = {"kind": source.kind, "lines": read.lines, "events": aggregate.count, "errors": read.errors}
        result.events += aggregate.count
    now = clock.current().now()
    with state.transaction():
        for read, aggregate in reads:
            _store_source(state, read, now, aggregate.count)
        groups = [group for _, aggregate in reads for group in aggregate.groups.values()]
        _route_to_older_issues(run, groups, miner)
        by_fp: dict[str, Group] = {}
        for group in groups:
            if group.fingerprint in by_fp:
                by_fp[group.fingerprint].merge(group)
            else:
                by_fp[group.fingerprint] = group
        for group in by_fp.values():
            if group.cluster in miner.clusters:  # the template as mined by the end of the read: titles show its <*>
                for event in group:
                    event.template = miner.clusters[group.cluster].template
        miner.save(state, utcnow())
        for fp, group in by_fp.items():
            _upsert_guarded(run, fp, group, now, result)
        related.link_issues(run, result)  # once the issues are in: probe windows and throw sites link, errors while a probe fails raise
        if result.events or any(s["errors"] for s in result.sources.values()):
            run.audit(
            step="scan",
            decision="scanned",
            reason=f"{result.events} events, {len(result.new_issues)} new issues, {len(result.updated_issues)} updated"
            + (f", {len(result.ignored)} ignored" if result.ignored else ""),
            details={name: {k: v for k, v in s.items() if k != "errors"} | {"errors": s["errors"][:20]} for name, s in result.sources.items()},
            )
    return result


def _where(event: Event) -> str:
    if event.path is None:
        return f"line {event.line}" if event.line else "record"
    return f"{event.path}: line {event.line}" if event.line else event.path


_TEXT_FIELDS = ("source", "level", "message", "raw", "kind", "fingerprint", "template", "severity", "severity_rule")
_OPTIONAL_TEXT_FIELDS = ("ts", "path", "exception_type", "exception_message", "user_id")
_PLAIN = (str, int, bool)


def _opt(value: object, kind: type) -> bool:
    return value is None or isinstance(value, kind)


def _check_storable(event: Event) -> datetime | None:
    """Raise for a record the issue tables cannot hold (wrong types, a timestamp out of range); returns its time."""
    e = event
    if not (type(e.source) is str and type(e.level) is str and type(e.message) is str and type(e.raw) is str  # noqa: E721
            and type(e.kind) is str and type(e.fingerprint) is str and type(e.template) is str and type(e.severity) is str  # noqa: E721
            and type(e.severity_rule) is str and (e.ts is None or type(e.ts) is str) and (e.path is None or type(e.path) is str)  # noqa: E721
            and (e.exception_type is None or type(e.exception_type) is str)  # noqa: E721
            and (e.exception_message is None or type(e.exception_message) is str)  # noqa: E721
            and (e.user_id is None or type(e.user_id) is str) and (e.line is None or type(e.line) is int)  # noqa: E721
            and type(e.request) is dict):  # noqa: E721
        _check_types(event)  # the common case is all plain; only a suspect record pays for the named checks
    when = _parse_when(event)
    if when is not None and not 1000 <= when.year <= 9998:
        raise ValueError(f"timestamp {event.ts!r} out of range")  # inside it, the minute key always formats
    for frame in event.frames:  # what json.dumps of Frame.as_dict() needs, without building the dicts
        if not (isinstance(frame.file, str) and isinstance(frame.function, str) and isinstance(frame.lang, str) and isinstance(frame.in_app, bool)
                and _opt(frame.line, int) and _opt(frame.column, int) and _opt(frame.mapped_from, str) and _opt(frame.excluded, str)):
            raise TypeError(f"frame {frame.file!r} has fields of the wrong type")
    if event.request and not all(isinstance(k, str) and (v is None or type(v) in _PLAIN) for k, v in event.request.items()):
        json.dumps(event.request)  # nested or unusual values: let json say whether they store
    return when


def _check_types(event: Event) -> None:
    """The field that is not what the tables store, named (str subclasses pass, as they store as text)."""
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(event, name), str):
            raise TypeError(f"{name} is {type(getattr(event, name)).__name__}, not text")
    for name in _OPTIONAL_TEXT_FIELDS:
        value = getattr(event, name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} is {type(value).__name__}, not text")
    if event.line is not None and not isinstance(event.line, int):
        raise TypeError("line is not a number")
    if not isinstance(event.request, dict):
        raise TypeError("request is not an object")


def _admit(settings: Settings, event: Event, repo: Path, miner: TemplateMiner | None = None) -> datetime | None:
    """Classify one event and check it can be stored (raises if not); returns its own time, if it has one."""
    classify(settings, event, repo, miner)
    return _check_storable(event)


def _unstorable(event: Event, exc: BaseException, what: str = "stored") -> str:
    return f"{_where(event)}: record cannot be {what} ({type(exc).__name__}: {str(exc)[:200]}); skipped"


def _prepare(settings: Settings, read: SourceRead, now: datetime, miner: TemplateMiner | None = None) -> None:
    """Classify the events; one that cannot be classified or stored becomes a source error and is dropped."""
    kept: list[Event] = []
    repo = settings.repo_path
    for event in read.events:
        try:
            _admit(settings, event, repo, miner)
        except Exception as exc:  # RecursionError included
            read.errors.append(_unstorable(event, exc))
            continue
        if sev.not_an_issue(event, settings.severity.rules):
            continue  # a 4xx access line: the client's mistake, not an issue (unless a rule names it)
        kept.append(event)
    read.events = kept


def _minute(when: datetime) -> str:
    """`%Y-%m-%dT%H:%M` of the time as written (years 1000-9998 only, see _check_storable)."""
    return when.isoformat()[:16]


_MINUTES: dict[str, str] = {}  # an event's `ts` up to its minute -> that minute's key: one isoformat per minute


def _minute_of(ts: str, when: datetime) -> str:
    # The minute as written depends on the first 16 characters of the text it was parsed from (no offset converts it).
    head = ts[:16]
    key = _MINUTES.get(head)
    if key is None:
        if len(_MINUTES) >= 4096:
            _MINUTES.clear()
        key = _MINUTES[head] = _minute(when)
    return key


@dataclass
class Group:
    """What one scan keeps of one fingerprint's events: counts and a few samples, never every event.

    Times are the events' own; events without one (`untimed`) are stamped with the time the scan stores them.
    """

    fingerprint: str  # the issue's: its own version 3 fingerprint, or an older issue's it is routed to
    count: int = 0
    v3: str = ""  # the events' version 3 fingerprint (provisional while `pending`)
    route: str = ""  # the older (v1/v2) issue fingerprint these events have, when such an issue exists
    pending: tuple[str, str] | None = None  # (basis prefix, masked message) of a group read without the miner
    cluster: str | None = None  # the template cluster of a message group
    first: datetime | None = None
    last: datetime | None = None
    untimed: int = 0
    minutes: dict[str, int] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)  # the smallest distinct request paths, enough for request_paths
    samples: deque[tuple[Event, datetime | None]] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_ISSUE))
    severity: str = ""  # the worst event's (the first of the worst)
    severity_rule: str = ""
    worst_line: int = 0  # the line of that event, to find the first of the worst when groups of one buffer interleave
    any_5xx: bool = False
    hits_5xx: list[tuple[datetime | None, str]] = field(default_factory=list)  # (time, path), for the distinct-paths rule
    by_source: dict[str, int] = field(default_factory=dict)

    def add(self, event: Event, when: datetime | None, api_prefixes: list[str]) -> None:
        self.count += 1
        self.by_source[event.source] = self.by_source.get(event.source, 0) + 1
        if when is None:
            self.untimed += 1
        else:
            if self.first is None or when < self.first:
                self.first = when
            if self.last is None or when > self.last:
                self.last = when
            key = _minute_of(event.ts, when) if event.ts else _minute(when)
            self.minutes[key] = self.minutes.get(key, 0) + 1
        if event.user_id:
            self.users.add(event.user_id)
        path = sev.request_of(event).get("path")
        if isinstance(path, str) and path not in self.paths:
            self._add_path(path)
        if not self.severity or (event.severity != self.severity and sev.RANK[event.severity] < sev.RANK[self.severity]):
            self.severity, self.severity_rule, self.worst_line = event.severity, event.severity_rule, event.line or 0
        if sev.is_5xx_api(event, api_prefixes):
            self.any_5xx = True
            if isinstance(path, str) and len(self.hits_5xx) < MAX_5XX_HITS:
                self.hits_5xx.append((when, path))
        self.samples.append((event, when))

    def _add_path(self, path: str) -> None:
        self.paths.add(path)
        if len(self.paths) > 4 * PATHS_KEPT:
            self.paths = set(sorted(self.paths)[:PATHS_KEPT])

    def merge(self, other: Group, interleaved: bool = False) -> None:
        """Fold in a group of the same fingerprint whose events came after this one's.

        `interleaved`: both hold events of one buffer (one file) in any order of lines, as two masked messages of
        one read that the miner put in one cluster; samples and the first of the worst then go by line number.
        """
        self.count += other.count
        for name, n in other.by_source.items():
            self.by_source[name] = self.by_source.get(name, 0) + n
        self.untimed += other.untimed
        if other.first is not None and (self.first is None or other.first < self.first):
            self.first = other.first
        if other.last is not None and (self.last is None or other.last > self.last):
            self.last = other.last
        for key, n in other.minutes.items():
            self.minutes[key] = self.minutes.get(key, 0) + n
        self.users |= other.users
        for path in other.paths:
            self._add_path(path)
        if other.severity and (not self.severity or sev.RANK[other.severity] < sev.RANK[self.severity] or (
                interleaved and other.severity == self.severity and other.worst_line < self.worst_line)):
            self.severity, self.severity_rule, self.worst_line = other.severity, other.severity_rule, other.worst_line
        self.any_5xx = self.any_5xx or other.any_5xx
        self.hits_5xx.extend(other.hits_5xx[:max(0, MAX_5XX_HITS - len(self.hits_5xx))])
        if interleaved:
            both = sorted([*self.samples, *other.samples], key=lambda s: s[0].line or 0)
            self.samples.clear()
            self.samples.extend(both)
        else:
            self.samples.extend(other.samples)

    def __iter__(self) -> Iterator[Event]:
        """The sample events, oldest first."""
        return (event for event, _ in self.samples)


class Aggregator:
    """Events folded per fingerprint as a source is read (see detect.sources: `into`).

    `append` classifies one event; one that cannot be classified or stored becomes an error (its file and
    line), a 4xx access line is left out, any other is added to its Group. A forked reader fills a `spawn()`
    of it, which has no miner: its message groups stay `pending` and are mined here, in file order, when
    `extend` adds them (the miner's state lives in this process only). A received aggregator has no settings.

    `legacy`: fingerprints of existing v1/v2 message issues; an event whose older fingerprint is one of them
    is routed to that issue (a v1 issue's new events land on it), see _route_to_older_issues.
    """

    def __init__(self, settings: Settings | None, repo: Path | None = None, *, miner: TemplateMiner | None = None,
                 legacy: frozenset[str] = frozenset()) -> None:
        self.settings = settings
        self.repo = repo if repo is not None or settings is None else settings.repo_path
        self.miner = miner
        self.legacy = legacy
        self.groups: dict[tuple[str, str], Group] = {}  # by (route, v3 fingerprint)
        self.errors: list[str] = []
        self.count = 0

    def append(self, event: Event) -> None:
        settings = self.settings
        assert settings is not None and self.repo is not None, "a received aggregator only merges"
        try:
            when = _admit(settings, event, self.repo, self.miner)
        except Exception as exc:  # RecursionError included
            self.errors.append(_unstorable(event, exc))
            return
        if sev.not_an_issue(event, settings.severity.rules):
            return  # a 4xx access line: the client's mistake, not an issue (unless a rule names it)
        route = ""
        prefix = message_prefix(event)
        if prefix is not None and self.legacy:
            old = legacy_fingerprint(event)
            route = old if old is not None and old in self.legacy else ""
        key = (route, event.fingerprint)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(route or event.fingerprint, v3=event.fingerprint, route=route)
            if prefix is not None:
                if self.miner is None:
                    group.pending = (prefix, event.template)
                elif self.miner.last is not None:
                    group.cluster = self.miner.last.key  # classify just matched it
        group.add(event, when, settings.severity.api_prefixes)
        self.count += 1

    def _settle(self, group: Group) -> Group:
        """Mine a pending group's message (counted once per event) and name it by its cluster."""
        if group.pending is None or self.miner is None:
            return group
        prefix, masked = group.pending
        cluster = self.miner.match(masked, weight=group.count)
        group.pending, group.cluster = None, cluster.key
        group.v3 = message_fingerprint(prefix, cluster.key)
        group.fingerprint = group.route or group.v3
        for event in group:
            event.fingerprint, event.template = group.v3, cluster.template
        return group

    def extend(self, other: Aggregator | Iterable[Event]) -> None:
        if not isinstance(other, Aggregator):
            for event in other:
                self.append(event)
            return
        # Mine the other's pending groups in their order (first appearance in its buffer); those the miner puts in
        # one cluster merge by line first, then the whole comes after what this aggregator holds.
        settled: dict[tuple[str, str], Group] = {}
        for group in other.groups.values():
            group = self._settle(group)
            key = (group.route, group.v3)
            if key in settled:
                settled[key].merge(group, interleaved=True)
            else:
                settled[key] = group
        for key, group in settled.items():
            if key in self.groups:
                self.groups[key].merge(group)
            else:
                self.groups[key] = group
        self.errors.extend(other.errors)
        self.count += other.count

    def spawn(self) -> Aggregator:
        return Aggregator(self.settings, self.repo, legacy=self.legacy)

    def clear(self) -> None:
        self.groups, self.errors, self.count = {}, [], 0

    def __getstate__(self) -> dict[str, Any]:
        return {"groups": self.groups, "errors": self.errors, "count": self.count}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings, self.repo, self.miner, self.legacy = None, None, None, frozenset()
        self.groups, self.errors, self.count = state["groups"], state["errors"], state["count"]


def _legacy_fingerprints(state: State) -> frozenset[str]:
    """Fingerprints of the message issues versions 1-2 made: their events are found again by legacy_fingerprint."""
    return frozenset(store_issues.message_fingerprints(state, LEGACY_VERSIONS))


def _route_to_older_issues(run: Run, groups: list[Group], miner: TemplateMiner) -> None:
    """Point version 3 groups at the v1/v2 issues they continue, through recorded links (fingerprint_links).

    An event whose older fingerprint is an existing issue's goes to that issue (already routed by the Aggregator).
    The first time that happens for a version 3 fingerprint with no issue of its own, the link v3 -> that issue is
    recorded and audited, so the group's other events (variants the old masks split off) land there too, now and in
    later scans, instead of opening an issue beside it. A v3 fingerprint that has an issue of its own keeps it.
    """
    state = run.state
    links = store_issues.fingerprint_links(state)
    own: dict[str, bool] = {}

    def has_issue(fp: str) -> bool:
        if fp not in own:
            own[fp] = store_issues.has_fingerprint(state, fp)
        return own[fp]

    for group in groups:
        if group.route and group.cluster is not None and group.v3 not in links and not has_issue(group.v3):
            issue_id = store_issues.id_of_fingerprint(state, group.route)
            store_issues.add_fingerprint_link(state, group.v3, issue_id, FINGERPRINT_VERSION, group.route, utcnow())
            links[group.v3] = group.route
            template = miner.clusters[group.cluster].template if group.cluster in miner.clusters else ""
            run.audit(step="scan", decision="linked", issue_id=issue_id,
                      reason=f"fingerprint v{FINGERPRINT_VERSION} {group.v3} ({template[:120]}) continues this issue's {group.route}",
                      details={"fingerprint": group.v3, "old_fingerprint": group.route, "version": FINGERPRINT_VERSION})
    for group in groups:
        if not group.route and group.cluster is not None and group.v3 in links and not has_issue(group.v3):
            group.fingerprint = links[group.v3]


def _upsert_guarded(run: Run, fp: str, group: Group, now: datetime, result: ScanResult) -> None:
    """One issue's update in a savepoint: if it fails, the rest of the scan still commits and the failure is reported."""
    before = (len(result.new_issues), len(result.updated_issues), len(result.regressions), len(result.ignored))
    try:
        with store_scan.savepoint(run.state, "scan_issue"):
            _upsert_issue(run, fp, group, now, result)
    except Exception as exc:
        del result.new_issues[before[0]:], result.updated_issues[before[1]:], result.regressions[before[2]:], result.ignored[before[3]:]
        result.events -= group.count
        for name, n in group.by_source.items():
            if name in result.sources:
                result.sources[name]["events"] -= n
        for event in group:  # the samples kept: at most SAMPLES_PER_ISSUE lines named
            reason = _unstorable(event, exc)
            if event.source in result.sources:
                result.sources[event.source]["errors"].append(reason)
            store_scan.add_source_error(run.state, utcnow(), event.source, reason[:1000])


def _store_source(state: State, read: SourceRead, now: datetime, events: int | None = None) -> None:
    stamp = utcnow()
    kept = {c.path for c in read.cursors}
    for path in read.forget:
        if path not in kept:
            store_scan.forget_cursor(state, read.name, path)
    for c in read.cursors:
        store_scan.save_cursor(state, read.name, c.path, device=c.device, inode=c.inode, offset=c.offset, line_no=c.line_no,
                               head_hash=c.head_hash, skipping=c.skipping, updated_at=stamp)
    # Lines and events are bucketed by the minute of the scan that read them.
    minute = now.strftime("%Y-%m-%dT%H:%M")
    store_scan.add_source_minute(state, read.name, minute, read.lines, len(read.events) if events is None else events)
    for reason in read.errors[:100]:
        store_scan.add_source_error(state, stamp, read.name, reason[:1000])
    if read.errors:
        store_scan.trim_source_errors(state, SOURCE_ERRORS_KEPT)


def _upsert_issue(run: Run, fp: str, group: Group, now: datetime, result: ScanResult) -> None:
    state, settings = run.state, run.settings
    count = group.count
    first_t = group.first if group.first is not None and not (group.untimed and now < group.first) else now
    last_t = group.last if group.last is not None and not (group.untimed and now > group.last) else now
    first, last = first_t.isoformat(), last_t.isoformat()
    sample = group.samples[-1][0]
    row = store_issues.find_by_fingerprint(state, fp)
    verdict = sev.Verdict(group.severity, group.severity_rule)
    paths = sorted(group.paths)
    stamp = utcnow()
    if row is None:
        fixable, why, culprit = _auto_fixable(settings, sample)
        issue_id = store_issues.create(
            state, fingerprint=fp, fingerprint_version=FINGERPRINT_VERSION, title=sample.title[:300], exception_type=sample.exception_type,
            template=sample.template, source=sample.source, severity=verdict.severity, severity_rule=verdict.rule, count=count,
            first_seen=first, last_seen=last, request_paths=paths[:PATHS_PER_ISSUE], auto_fixable=fixable, auto_fixable_reason=why,
            culprit=culprit, updated_at=stamp,
        )
        status, is_new = "detected", True
        old_paths: list[str] = []
    else:
        issue_id, status = row.id, row.status
        is_new = False
        if status == "ignored" or sev.RANK[row.severity] < sev.RANK[verdict.severity]:
            # Never quietly lower a severity; and an ignored issue's severity never moves at all.
            verdict = sev.Verdict(row.severity, row.severity_rule)
        old_paths = json.loads(row.request_paths)
        merged = (old_paths + [p for p in paths if p not in old_paths])[:PATHS_PER_ISSUE]
        store_issues.add_occurrences(state, issue_id, count, first_seen=first, last_seen=last, request_paths=merged, updated_at=stamp)
        if status == "resolved":
            # A recurrence after resolve is a regression: the status moves through transitions (audited as
            # `status:detected`), inside this scan's transaction, so count, status and audit commit together.
            why = f"regression: resolved issue seen again ({count} events)"
            watch_until, fix_sha = store_issues.post_fix_watch(state, issue_id)
            if watch_until and watch_until >= stamp:  # within post_fix_watch_h: the shipped fix did not hold
                why += f"; a regression of fix {str(fix_sha or '')[:12]} within its post-fix watch (until {watch_until[:16]})"
            transitions.move(run.state, issue_id, "detected", step="scan", reason=why, run_id=run.run_id, expect="resolved",
                             details={"events": count})
            regressions = store_issues.add_regression(state, issue_id)
            run.audit(step="scan", decision="reopened", reason=why, issue_id=issue_id, details={"regressions": regressions})
            result.regressions.append(issue_id)
            status = "detected"
    ignored = status == "ignored"
    # Frequency per minute, users, samples.
    minutes = dict(group.minutes)
    if group.untimed:
        minutes[_minute(now)] = minutes.get(_minute(now), 0) + group.untimed
    store_issues.add_minutes(state, issue_id, minutes)
    store_issues.add_users(state, issue_id, group.users)
    user_count = store_issues.user_count(state, issue_id)
    if not ignored and group.any_5xx:
        peak = _peak_5min(state, issue_id, minutes)
        verdict = sev.escalate(verdict, is_5xx_api=True, events_per_5min=peak, users=user_count,
                               paths_per_5min=_peak_paths_5min([(now if t is None else t, p) for t, p in group.hits_5xx]))
    store_issues.set_severity_and_users(state, issue_id, verdict.severity, verdict.rule, user_count)
    store_issues.add_events(state, issue_id, [
        store_issues.NewEvent(ts=(now if when is None else when).isoformat(), source=event.source, path=event.path, line=event.line, level=event.level,
                              message=event.message, exception_type=event.exception_type, exception_message=event.exception_message,
                              frames=[f.as_dict() for f in event.frames], request=event.request, user_id=event.user_id, raw=event.raw)
        for event, when in group.samples
    ])
    store_issues.keep_newest_events(state, issue_id, SAMPLES_PER_ISSUE)
    summary = {"id": issue_id, "severity": verdict.severity, "status": status, "new_events": count, "title": sample.title[:300]}
    if ignored:
        result.ignored.append(summary)
    elif is_new:
        result.new_issues.append(summary)
        outbox.record(state, "issue_detected", issue_id=issue_id, title=f"{verdict.severity} {sample.title[:200]}",
                      message=f"new issue {issue_id} ({verdict.severity})", key=f"detected:{issue_id}", run_id=run.run_id)
        run.audit(step="scan", decision="detected", issue_id=issue_id,
                  reason=f"new issue {verdict.severity} by {verdict.rule}: {sample.title[:200]}",
                  details={"fingerprint": fp, "events": count})
    else:
        result.updated_issues.append(summary)


def _peak_paths_5min(hits: list[tuple[datetime, str]]) -> int:
    """The most distinct request paths among these 5xx hits (time, path) within any 5 minutes (see severity.peak_paths_5min)."""
    hits = sorted(hits)
    window: dict[str, int] = defaultdict(int)
    peak, start = 0, 0
    for when, path in hits:
        window[path] += 1
        while hits[start][0] <= when - sev.BUSY_WINDOW:
            old = hits[start][1]
            window[old] -= 1
            if not window[old]:
                del window[old]
            start += 1
        peak = max(peak, len(window))
    return peak


def _peak_5min(state: State, issue_id: int, touched: dict[str, int]) -> int:
    """The most events of this issue in any 5-minute window ending at a touched minute."""
    peak = 0
    for minute in touched:
        end = datetime.fromisoformat(minute)
        start = (end - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M")
        peak = max(peak, store_issues.minutes_total(state, issue_id, start, minute))
    return peak


def refuse_special(path: Path) -> None:
    """--path reads regular files only: a FIFO would block and a device never ends."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # a missing file is reported as a source error, as before
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
            "a directory" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise ConfigError(f"--path {path} is {kind}; only regular files are read")


def dry_run_events(settings: Settings, *, source_names: list[str] | None = None, path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every event from the start of the sources (or one file), as a person checks grouping. Changes nothing."""
    sources = select_sources(settings, source_names)
    if path is not None:
        refuse_special(path)
        sources = [s for s in sources if s.kind in ("file", "junit")] or [
            SourceConfig(name="file", kind="file", paths=[str(path)])
        ]
        sources = sources[:1]
    miner = TemplateMiner()
    for source in sources:
        read = read_source(settings, source, {}, from_start=True, only=path)
        # A poison record is left out, as a scan leaves it out. Messages are mined afresh: the state file is not read.
        _prepare(settings, read, clock.current().now(), miner)
        for event in read.events:
            yield {
                "source": event.source,
                "path": event.path,
                "line": event.line,
                "level": event.level,
                "exception_type": event.exception_type,
                "fingerprint": event.fingerprint,
                "template": event.title,
                "severity": event.severity,
            }
