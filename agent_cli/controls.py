"""The kill switch: pause, resume, and the check every step that changes code or environments makes first."""

from __future__ import annotations

from typing import Any

from agent_cli import audit
from agent_cli.state import State, utcnow

PAUSE_KEY = "paused"


def pause_state(state: State) -> dict[str, Any]:
    return state.get_setting(PAUSE_KEY) or {"paused": False}


def pause(state: State, reason: str) -> dict[str, Any]:
    """Stop every step that changes code or environments until `resume`."""
    current = pause_state(state)
    if current.get("paused"):
        return {**current, "changed": False}
    why = reason or "no reason given"
    value = {"paused": True, "reason": why, "since": utcnow()}
    with state.transaction():
        state.set_setting(PAUSE_KEY, value)
        audit.record(state, step="pause", decision="paused", reason=why)
    return {**value, "changed": True}


def resume(state: State) -> dict[str, Any]:
    current = pause_state(state)
    if not current.get("paused"):
        return {"paused": False, "changed": False}
    with state.transaction():
        state.set_setting(PAUSE_KEY, {"paused": False})
        audit.record(state, step="resume", decision="resumed", reason=f"pause since {current.get('since')} lifted")
    return {"paused": False, "changed": True}
