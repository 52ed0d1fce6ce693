"""Domain events out of the steps, into notifications, whoever ran the step.

A step records what happened (`record`) in the same transaction as the change, so a run killed
after the change still has the event to send, and a person's `agent rollback --force` notifies
like a cron run. Every command that holds the run lock drains the outbox when its step ends
(`drain`), through `agent_cli.notify` and its dedupe per key and channel: draining twice sends once.
"""

from __future__ import annotations

from typing import Any

from agent_cli.state import State, utcnow
from agent_cli.store import issues as store_issues
from agent_cli.store import outbox as store_outbox


def record(state: State, event: str, *, title: str, message: str, key: str, issue_id: int | None = None, run_id: str | None = None) -> None:
    """`key` names the occasion with ids only (never log text), e.g. `deployed:12`."""
    store_outbox.add(state, ts=utcnow(), run_id=run_id, event=event, issue_id=issue_id, title=title[:500], message=message[:2000],
                     dedupe_key=key)


def drain(state: State, settings: Any, run_id: str | None = None) -> list[dict[str, Any]]:
    """Send every unsent event (never raises); returns [{event, issue, key, sent: [channels ok]}]."""
    out: list[dict[str, Any]] = []
    try:
        pending = store_outbox.unsent(state)
    except Exception:  # noqa: BLE001 - a notification never fails its caller
        return out
    if not pending:
        return out  # the idle cron case: notify (httpx, apprise) is not even imported
    from agent_cli.notify import notify, should_notify_detected
    for row in pending:
        issue = store_issues.get(state, row["issue_id"]) if row["issue_id"] is not None else None
        results: list[dict[str, Any]] = []
        if row["event"] != "issue_detected" or (issue is not None and should_notify_detected(settings, issue.severity)):
            results = notify(state, settings, row["event"], title=row["title"], message=row["message"],
                             issue={"id": issue.id, "title": issue.title, "severity": issue.severity, "status": issue.status} if issue else None,
                             dedupe_key=row["dedupe_key"], run_id=run_id)
        try:
            store_outbox.mark_sent(state, row["id"], utcnow())
        except Exception:  # noqa: BLE001 - sent again next time, and deduped then
            pass
        out.append({"event": row["event"], "issue": row["issue_id"], "key": row["dedupe_key"], "title": row["title"],
                    "message": row["message"], "sent": [r for r in results if r.get("ok")]})
    return out
