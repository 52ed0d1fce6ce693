"""Notifications: Slack, Discord, Google Chat, a generic JSON webhook, and apprise for the rest.

`notify()` sends one event to every configured channel and never raises: a failure is
recorded (the `notifications` row, an audit record) and returned. What leaves the machine is
built by the caller from titles and summaries (never raw log lines), and is redacted and cut
here as well. The same dedupe key (default `"{event}:{issue_id}"`) is sent once per channel:
a second call skips the channels that already have it and tries again only those that failed.

Channel URLs are secrets from the environment (`AGENT_NOTIFY__*`); they never appear in a
result, an error, the state or the audit. httpx, tenacity and apprise are imported only when
something is sent: cron starts `agent` every five minutes.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from agent_cli.config import NOTIFY_EVENTS, Settings
from agent_cli.redact import redact
from agent_cli.retry import RETRYABLE_STATUS, WAIT_INITIAL_S, RetryOn, retrying
from agent_cli.state import State, utcnow
from agent_cli.store import notifications as store

EVENTS = NOTIFY_EVENTS
TITLE_MAX = 200
MESSAGE_MAX = 1500
LINKS_MAX = 10
LINK_MAX = 500
DISCORD_MAX = 2000  # Discord refuses longer content
# Retry waits start here (seconds); tests may lower it.
RETRY_WAIT_INITIAL_S = WAIT_INITIAL_S

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")
_APPRISE_SPLIT = re.compile(r"[\s,]+")
_APPRISE_STATUS = re.compile(r"error=(\d{3})\b")


class _Status(Exception):
    """A channel answered with a status that is not success."""

    def __init__(self, status_code: int, detail: str = "") -> None:
        super().__init__(f"HTTP {status_code}{': ' + detail if detail else ''}")
        self.status_code = status_code


class _AppriseFailed(Exception):
    """apprise reported the send as failed; `status_code` when its log named one, else a transport error."""

    def __init__(self, detail: str, status_code: int | None) -> None:
        super().__init__(detail)
        self.status_code = status_code


class _Refused(Exception):
    """Not worth another try (an invalid apprise URL)."""


# ---- text -------------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean(text: Any, limit: int, *, emails: bool = True, one_line: bool = False) -> str:
    """`text` redacted (the LLM prompts' redaction), without control characters, cut to `limit`.

    Redaction runs before the final cut so that a cut can never leave a secret's prefix that
    redaction would no longer recognise; the first cut (10x) only bounds redact()'s work.
    """
    s = "" if text is None else str(text)
    s = _CONTROL.sub(" ", s[: limit * 10])
    s = redact(s, emails=emails)
    s = _SPACES.sub(" ", s).strip() if one_line else "\n".join(line.rstrip() for line in s.splitlines()).strip()
    return _cut(s, limit)


@dataclass(frozen=True)
class Message:
    """What is sent, already redacted and cut: every channel formats this and nothing else."""

    event: str
    title: str
    message: str
    issue: dict[str, Any] | None
    links: dict[str, str]
    sent_at: str

    @property
    def severity(self) -> str | None:
        return self.issue.get("severity") if self.issue else None

    def issue_line(self) -> str:
        if not self.issue:
            return ""
        bits = [b for b in (self.issue.get("severity"), self.issue.get("status")) if b]
        return f"Issue #{self.issue.get('id')}" + (f" ({', '.join(bits)})" if bits else "") + (f": {self.issue['title']}" if self.issue.get("title") else "")

    def plain(self, escape: Callable[[str], str] = lambda s: s, link: Callable[[str, str], str] | None = None, *, title: bool = True) -> str:
        link = link or (lambda label, url: f"{escape(label)}: {escape(url)}")
        lines = [escape(self.title)] if title else []
        if self.message:
            lines.append(escape(self.message))
        if self.issue:
            lines.append(escape(self.issue_line()))
        lines += [link(label, url) for label, url in self.links.items()]
        return "\n".join(lines)


def build_message(settings: Settings, event: str, title: str, message: str, issue: dict[str, Any] | None, links: dict[str, str] | None) -> Message:
    emails = settings.diagnose.redact_emails
    safe_issue = None
    if issue is not None:
        safe_issue = {
            "id": issue.get("id"),
            "title": clean(issue.get("title"), TITLE_MAX, emails=emails, one_line=True) or None,
            "severity": clean(issue.get("severity"), 8, one_line=True) or None,
            "status": clean(issue.get("status"), 32, one_line=True) or None,
        }
    safe_links = {
        clean(label, 60, emails=emails, one_line=True): clean(url, LINK_MAX, emails=emails, one_line=True)
        for label, url in list((links or {}).items())[:LINKS_MAX]
    }
    return Message(
        event=event,
        title=clean(title, TITLE_MAX, emails=emails, one_line=True) or event,
        message=clean(message, MESSAGE_MAX, emails=emails),
        issue=safe_issue,
        links=safe_links,
        sent_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


# ---- channel payloads ---------------------------------------------------------------------------


def _slack_escape(s: str) -> str:
    # Slack's own escaping; it also keeps text from a log from writing <!channel> or a disguised link.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(m: Message) -> dict[str, Any]:
    def link(label: str, url: str) -> str:
        return f"<{_slack_escape(url).replace('|', '%7C')}|{_slack_escape(label)}>"

    text = m.plain(_slack_escape, link)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}}]}


def discord_payload(m: Message) -> dict[str, Any]:
    # No @everyone, @here, role or user pings from text, whatever it holds.
    return {"content": _cut(m.plain(), DISCORD_MAX), "allowed_mentions": {"parse": []}}


def _chat_escape(s: str) -> str:
    # Google Chat reads <users/all> and <url|label> in text: a zero-width space after "<" keeps them literal.
    return s.replace("<", "<\u200b")


def google_chat_payload(m: Message) -> dict[str, Any]:
    return {"text": m.plain(_chat_escape)}


def webhook_payload(m: Message) -> dict[str, Any]:
    return {
        "event": m.event,
        "issue": m.issue,
        "severity": m.severity,
        "title": m.title,
        "message": m.message,
        "links": m.links,
        "sent_at": m.sent_at,
    }


PAYLOADS: dict[str, Callable[[Message], dict[str, Any]]] = {
    "slack": slack_payload,
    "discord": discord_payload,
    "google_chat": google_chat_payload,
    "webhook": webhook_payload,
}


# ---- channels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    name: str  # shown in results and stored; never the URL
    kind: str  # slack | discord | google_chat | webhook | apprise
    url: str


def channels(settings: Settings) -> list[Channel]:
    """The configured channels, in a fixed order."""
    n = settings.notify
    found = [
        Channel(kind, kind, secret.get_secret_value().strip())
        for kind, secret in (
            ("slack", n.slack_webhook_url),
            ("discord", n.discord_webhook_url),
            ("google_chat", n.google_chat_webhook_url),
            ("webhook", n.webhook_url),
        )
        if secret.get_secret_value().strip()
    ]
    seen: dict[str, int] = {}
    for url in _APPRISE_SPLIT.split(n.apprise_urls.get_secret_value()):
        if not url:
            continue
        scheme = url.split("://", 1)[0].lower() if "://" in url else "?"
        scheme = re.sub(r"[^a-z0-9+.-]", "", scheme)[:20] or "?"
        seen[scheme] = seen.get(scheme, 0) + 1
        found.append(Channel(f"apprise:{scheme}" + (f"#{seen[scheme]}" if seen[scheme] > 1 else ""), "apprise", url))
    return found


def _describe(exc: BaseException, url: str) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        text = f"timed out ({type(exc).__name__})"
    elif isinstance(exc, httpx.TransportError):
        text = f"connection failed ({type(exc).__name__}: {exc})"
    else:
        text = str(exc) or type(exc).__name__
    # A URL is a secret (its path is the webhook's token): never in an error.
    for part in (url, url.split("?", 1)[0]):  # the whole URL first
        if part:
            text = text.replace(part, "<url>")
    return _cut(redact(_CONTROL.sub(" ", text)), 300)


def _post(client: Any, url: str, payload: dict[str, Any]) -> int:
    response = client.post(url, json=payload)
    if not 200 <= response.status_code < 300:
        raise _Status(response.status_code)
    return int(response.status_code)


@functools.cache
def _tls() -> Any:
    """One TLS context per process (building one reads the CA bundle, which costs more than a send)."""
    import os
    import ssl

    import certifi  # httpx's own CA bundle; SSL_CERT_FILE / SSL_CERT_DIR are honoured as httpx does

    cafile = os.environ.get("SSL_CERT_FILE") or (None if os.environ.get("SSL_CERT_DIR") else certifi.where())
    return ssl.create_default_context(cafile=cafile, capath=os.environ.get("SSL_CERT_DIR") or None)


def _send_http(channel: Channel, payload: dict[str, Any], timeout_s: float, max_retries: int) -> int:
    import httpx

    retry_on = RetryOn(exceptions=(httpx.TimeoutException, httpx.TransportError), statuses=RETRYABLE_STATUS, status_errors=(_Status,))
    with httpx.Client(timeout=httpx.Timeout(timeout_s), verify=_tls(), follow_redirects=False, headers={"User-Agent": "agent-cli"}) as client:
        for attempt in retrying(max_retries, retry_on, wait_initial_s=RETRY_WAIT_INITIAL_S):
            with attempt:
                return _post(client, channel.url, payload)
    raise AssertionError("unreachable")  # pragma: no cover


def _apprise_once(url: str, m: Message, timeout_s: float) -> int:
    import logging

    import apprise

    asset = apprise.AppriseAsset(storage_mode="memory")  # no cache files written on the agent's behalf
    sender = apprise.Apprise(asset=asset)
    if not sender.add(url):
        raise _Refused("not a valid apprise URL (or its service is not available)")
    for server in sender:
        if not re.search(r"[?&]cto=", url):
            server.socket_connect_timeout = timeout_s
        if not re.search(r"[?&]rto=", url):
            server.socket_read_timeout = timeout_s
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
        ok = sender.notify(title=m.title, body=m.plain(title=False) or m.title)
    if ok:
        return 200
    lines = [line for line in log.getvalue().splitlines() if line.strip()]
    statuses = _APPRISE_STATUS.findall(" ".join(lines))
    status = int(statuses[-1]) if statuses else None
    raise _AppriseFailed(f"apprise: not delivered ({status and f'HTTP {status}' or (lines[-1] if lines else 'no detail')})", status)


def _send_apprise(channel: Channel, m: Message, timeout_s: float, max_retries: int) -> int:
    # apprise does not retry; a failure without a status is a transport error, tried again like httpx's.
    def retry_on(exc: BaseException) -> bool:
        return isinstance(exc, _AppriseFailed) and (exc.status_code is None or exc.status_code in RETRYABLE_STATUS)

    for attempt in retrying(max_retries, retry_on, wait_initial_s=RETRY_WAIT_INITIAL_S):
        with attempt:
            return _apprise_once(channel.url, m, timeout_s)
    raise AssertionError("unreachable")  # pragma: no cover


def _result(channel: str, ok: bool, status: int | None = None, error: str | None = None, skipped: bool = False) -> dict[str, Any]:
    return {"channel": channel, "ok": ok, "status": status, "error": error, "skipped": skipped}


def _send_one(channel: Channel, m: Message, settings: Settings) -> dict[str, Any]:
    timeout_s, max_retries = settings.notify.timeout_s, settings.notify.max_retries
    try:
        if channel.kind == "apprise":
            status = _send_apprise(channel, m, timeout_s, max_retries)
        else:
            status = _send_http(channel, PAYLOADS[channel.kind](m), timeout_s, max_retries)
        return _result(channel.name, True, status)
    except Exception as exc:  # a notification never fails its caller
        status_code = getattr(exc, "status_code", None)
        return _result(channel.name, False, status_code if isinstance(status_code, int) else None, _describe(exc, channel.url))


def _send_all(chosen: list[Channel], m: Message, settings: Settings) -> list[dict[str, Any]]:
    if len(chosen) == 1:
        return [_send_one(chosen[0], m, settings)]
    from concurrent.futures import ThreadPoolExecutor

    # In parallel: a channel that times out and retries does not hold up the others.
    with ThreadPoolExecutor(max_workers=min(8, len(chosen)), thread_name_prefix="notify") as pool:
        return list(pool.map(lambda c: _send_one(c, m, settings), chosen))


# ---- the interface ------------------------------------------------------------------------------


def should_notify_detected(settings: Settings, severity: str) -> bool:
    """Is `issue_detected` sent for an issue of `severity`? ([notify] detected_severities, default P0 and P1, and the event enabled.)"""
    return "issue_detected" in settings.notify.events and severity in settings.notify.detected_severities


def default_dedupe_key(event: str, issue_id: Any, title: str = "", message: str = "") -> str:
    """`{event}:{issue_id}`; without an issue, the event and a digest of its (redacted) text."""
    if issue_id is not None:
        return f"{event}:{issue_id}"
    digest = hashlib.sha256(f"{title}\n{message}".encode()).hexdigest()[:16]
    return f"{event}:-:{digest}"


def notify(
    state: State,
    settings: Settings,
    event: str,
    *,
    title: str,
    message: str,
    issue: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
    dedupe_key: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Send to every configured channel; never raises (a failure is recorded and returned).

    Returns one dict per channel: {channel, ok, status, error, skipped}. `skipped` means nothing
    was sent now: already delivered under this dedupe key (ok true), or the event or severity is
    not configured (ok false, error says why). A failure is `not ok and not skipped`.
    No channel configured: [] and nothing recorded. Callers of events that recur for one issue
    (deployed to staging, then production) pass a dedupe_key naming the occasion.
    """
    try:
        chosen = channels(settings)
    except Exception as exc:  # a notification never fails its caller
        return [_result("*", False, None, f"notify: channels unreadable: {type(exc).__name__}")]
    if not chosen:
        return []
    issue_id = issue.get("id") if issue else None
    try:
        return _notify(state, settings, chosen, event, title, message, issue, links, dedupe_key, run_id)
    except Exception as exc:  # a notification never fails its caller
        error = f"notify: {type(exc).__name__}: {_cut(redact(str(exc)), 200)}"
        _audit(state, "notify-failed", f"{event}: {error}", issue_id, {"event": event}, run_id)
        return [_result(c.name, False, None, error) for c in chosen]


def _notify(
    state: State,
    settings: Settings,
    chosen: list[Channel],
    event: str,
    title: str,
    message: str,
    issue: dict[str, Any] | None,
    links: dict[str, str] | None,
    dedupe_key: str | None,
    run_id: str | None,
) -> list[dict[str, Any]]:
    issue_id = issue.get("id") if issue else None
    if event not in EVENTS:
        error = f"unknown event {event!r}"
        _audit(state, "notify-failed", error, issue_id, {"event": event}, run_id)
        return [_result(c.name, False, None, error) for c in chosen]
    if event not in settings.notify.events:
        return [_result(c.name, False, None, f"event {event!r} is not in [notify] events", skipped=True) for c in chosen]
    severity = (issue or {}).get("severity")
    if event == "issue_detected" and severity and not should_notify_detected(settings, str(severity)):
        return [_result(c.name, False, None, f"severity {severity} is not in [notify] detected_severities", skipped=True) for c in chosen]

    m = build_message(settings, event, title, message, issue, links)
    key = dedupe_key or default_dedupe_key(event, issue_id, m.title, m.message)
    before = {r["channel"]: r for r in store.results(state, key)}
    delivered = {name for name, r in before.items() if r.get("ok")}
    todo = [c for c in chosen if c.name not in delivered]
    results = {c.name: _result(c.name, True, before[c.name].get("status"), None, skipped=True) for c in chosen if c.name in delivered}
    if not todo:
        return [results[c.name] for c in chosen]

    for r in _send_all(todo, m, settings):
        results[r["channel"]] = r
    ordered = [results[c.name] for c in chosen]
    failed = [r for r in ordered if not r["ok"]]
    failure = "; ".join(f"{r['channel']}: {r['error']}" for r in failed) or None
    stored = {**before, **{r["channel"]: {k: v for k, v in r.items() if k != "skipped"} for r in ordered if not r["skipped"]}}
    now = utcnow()
    with state.transaction():
        store.save(state, at=now, run_id=run_id, event=event, issue_id=issue_id, dedupe_key=key, title=m.title,
                   results=list(stored.values()), ok=not failed, error=failure)
        details = {"event": event, "dedupe_key": key, "results": ordered}
        if failed:
            _audit(state, "notify-failed", f"{event}: {len(failed)} of {len(ordered)} channel(s) failed: {failure}", issue_id, details, run_id)
        else:
            _audit(state, "notified", f"{event}: sent to {', '.join(r['channel'] for r in ordered if not r['skipped'])}", issue_id, details, run_id)
    return ordered


def _audit(state: State, decision: str, reason: str, issue_id: Any, details: dict[str, Any], run_id: str | None) -> None:
    from agent_cli import audit

    try:
        audit.record(state, step="notify", decision=decision, reason=_cut(reason, 1000), issue_id=issue_id, details=details, run_id=run_id)
    except Exception:  # the caller's step goes on; its own audit will show the state's trouble
        pass
