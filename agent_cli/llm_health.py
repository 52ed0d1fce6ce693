"""The LLM's health across runs (an outage since when, and why) and what `status` and `run` say of the model.

Apart from agent_cli.llm so that `agent status` and an idle `agent run` need not import the client code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agent_cli import llm_catalog
from agent_cli.config import Settings, resolved_provider
from agent_cli.state import State, utcnow
from agent_cli.store import settings as settings_store

DEGRADED_KEY = "llm_degraded"


def degraded(state: State) -> dict[str, Any] | None:
    """{"since", "reason"} while the API is unusable (set by a fallback, cleared by the next successful call)."""
    value = settings_store.get(state, DEGRADED_KEY)
    return value if isinstance(value, dict) and value.get("since") else None


def mark_degraded(state: State, reason: str, now: str) -> dict[str, Any]:
    """Record the outage; its start stays the first failure's until a call succeeds. Returns {"since", "reason", "new"}."""
    current = degraded(state)
    since = current["since"] if current else now
    settings_store.put(state, DEGRADED_KEY, {"since": since, "reason": reason}, updated_at=utcnow())
    return {"since": since, "reason": reason, "new": current is None}


def mark_recovered(state: State) -> None:
    if degraded(state) is not None:
        settings_store.put(state, DEGRADED_KEY, None, updated_at=utcnow())


def llm_status(settings: Settings, state: State, today: date) -> dict[str, Any]:
    """What `status` and `run` say of the model: provider, model, an outage, a retirement coming."""
    provider = resolved_provider(settings)
    calls = provider == "anthropic"
    outage = degraded(state)
    warnings = [w for w in (llm_catalog.retirement_warning(settings.llm.model, today) if calls else None,
                            f"LLM: degraded since {outage['since']}: {outage['reason']}" if outage else None) if w]
    return {"provider": provider, "model": settings.llm.model if calls else None, "degraded": outage, "warnings": warnings}
