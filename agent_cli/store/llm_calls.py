"""Calls to the model (`llm_calls`): one row per HTTP attempt, with tokens, cost, latency and outcome.

The spend reads are what the LLM budget is checked against; the call log is `agent llm-log`'s view
(dict rows, newest first).
"""

from __future__ import annotations

from typing import Any

from agent_cli.state import State


def insert(state: State, *, issue_id: int | None, step: str, model: str, input_tokens: int, output_tokens: int, thinking_tokens: int,
           cost_usd: float, latency_ms: float, outcome: str, prompt: str, response: str, ts: str) -> int:
    """Record one call made at `ts`; returns its id."""
    with state.transaction() as db:
        cur = db.execute(
            "INSERT INTO llm_calls(ts, issue_id, step, model, input_tokens, output_tokens, thinking_tokens, cost_usd, latency_ms, "
            "outcome, prompt, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ts, issue_id, step, model, input_tokens, output_tokens, thinking_tokens, cost_usd, latency_ms, outcome, prompt, response],
        )
    assert cur.lastrowid is not None
    return cur.lastrowid


def spent_on_issue(state: State, issue_id: int | None) -> float:
    """What the calls about the issue cost, in USD (0 for none; None matches no call)."""
    return float(state.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE issue_id = ?", [issue_id]).fetchone()[0])


def spend_of_issue(state: State, issue_id: int) -> dict[str, Any]:
    """The model calls made for the issue: calls, usd, tokens."""
    return state.rows("SELECT COUNT(*) AS calls, COALESCE(SUM(cost_usd), 0) AS usd, COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens "
                      "FROM llm_calls WHERE issue_id = ?", [issue_id])[0]


def spent_since(state: State, since: str) -> float:
    """What the calls since `since` (an ISO-8601 UTC time) cost, in USD."""
    return float(state.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE ts >= ?", [since]).fetchone()[0])


def log(state: State, *, issue_id: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The recorded calls (of the issue, if given), newest first, with the stored request as `prompt`; no response."""
    where, params = ("WHERE issue_id = ?", [issue_id]) if issue_id is not None else ("", [])
    return state.rows(
        "SELECT id, ts, issue_id, step, model, input_tokens, output_tokens, thinking_tokens, cost_usd, latency_ms, outcome, prompt "
        f"FROM llm_calls {where} ORDER BY id DESC LIMIT ?", [*params, limit])
