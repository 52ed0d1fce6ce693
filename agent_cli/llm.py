"""Calls to Claude through the official SDK: forced tool use, validation, budget, retries, records.

Retries live here and only here (tenacity); the SDK's own retries are off.
Every HTTP attempt is recorded in `llm_calls` with tokens, cost, latency and
outcome. The budget is checked before each attempt and fails closed.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent_cli.config import Settings
from agent_cli.errors import ConfigError, PolicyRefused, StepFailed
from agent_cli.state import State, utcnow

# USD per million tokens (input, output), matched by longest model-name prefix.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
}
UNKNOWN_MODEL_PRICE = (15.0, 75.0)  # an unknown model is priced as the dearest: budgets fail safe
# Retryable failures, as data: HTTP statuses, plus any connection error or timeout.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
RETRY_WAIT_INITIAL_S = 0.5
RETRY_WAIT_MAX_S = 20.0
STORED_TEXT_LIMIT = 200_000

Answer = TypeVar("Answer", bound=BaseModel)


class BudgetExceeded(PolicyRefused):
    pass


def price_for(model: str) -> tuple[float, float]:
    best = max((p for p in PRICES_PER_MTOK if model.startswith(p)), key=len, default=None)
    return PRICES_PER_MTOK[best] if best else UNKNOWN_MODEL_PRICE


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    price_in, price_out = price_for(model)
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000


def api_key() -> str | None:
    return os.environ.get("ANTHROPIC_API_KEY") or None


def provider_name(settings: Settings) -> str:
    """`auto` means anthropic when ANTHROPIC_API_KEY is set, else offline."""
    chosen = settings.llm.provider
    if chosen == "auto":
        return "anthropic" if api_key() else "offline"
    if chosen == "anthropic" and not api_key():
        raise ConfigError("llm.provider is 'anthropic' but ANTHROPIC_API_KEY is not set")
    return chosen


def is_retryable(exc: BaseException) -> bool:
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code in RETRYABLE_STATUS


def spend(state: State, issue_id: int | None) -> tuple[float, float]:
    """(spent on this issue, spent today UTC). Raises BudgetExceeded if it cannot be read."""
    day_start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    try:
        issue_spend = state.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE issue_id = ?", [issue_id]).fetchone()[0]
        day_spend = state.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE ts >= ?", [day_start]).fetchone()[0]
    except Exception as exc:  # fail closed: no reading, no call
        raise BudgetExceeded(f"LLM spend cannot be read ({exc}); not calling the model", rule="llm.budget-unreadable") from None
    return float(issue_spend), float(day_spend)


class ToolCaller:
    """One tool-forced conversation with the model, for one issue and step."""

    def __init__(self, settings: Settings, state: State, *, client: Any = None) -> None:
        self.settings = settings
        self.state = state
        self.model = settings.llm.model
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.Anthropic(
                api_key=api_key(),
                base_url=self.settings.llm.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None,
                max_retries=0,  # retries are ours (tenacity), in one layer
                timeout=self.settings.llm.timeout_s,
            )
        return self._client

    def _check_budget(self, issue_id: int | None, request_chars: int) -> float:
        limits = self.settings.llm
        price_in, price_out = price_for(self.model)
        # Conservative: ~3 characters a token, and the whole max_tokens spent.
        projected = (request_chars / 3 * price_in + limits.max_tokens * price_out) / 1_000_000
        issue_spend, day_spend = spend(self.state, issue_id)
        if issue_spend + projected > limits.max_cost_per_issue_usd:
            raise BudgetExceeded(
                f"LLM budget for issue {issue_id}: spent ${issue_spend:.4f} + next call up to ${projected:.4f} > ${limits.max_cost_per_issue_usd:.2f}",
                rule="llm.max_cost_per_issue_usd",
            )
        if day_spend + projected > limits.max_cost_per_day_usd:
            raise BudgetExceeded(
                f"LLM budget for today: spent ${day_spend:.4f} + next call up to ${projected:.4f} > ${limits.max_cost_per_day_usd:.2f}",
                rule="llm.max_cost_per_day_usd",
            )
        return projected

    def _record(self, *, issue_id: int | None, step: str, started: float, outcome: str, request: dict[str, Any], response: Any = None) -> float:
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        cost = cost_usd(self.model, tokens_in, tokens_out)
        body = response.model_dump_json() if hasattr(response, "model_dump_json") else None
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO llm_calls(ts, issue_id, step, model, input_tokens, output_tokens, cost_usd, latency_ms, outcome, prompt, response) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [utcnow(), issue_id, step, self.model, tokens_in, tokens_out, cost, round((time.perf_counter() - started) * 1000, 1),
                 outcome[:500], json.dumps(request)[:STORED_TEXT_LIMIT], (body or "")[:STORED_TEXT_LIMIT]],
            )
        return cost

    def _create(self, issue_id: int | None, step: str, request: dict[str, Any]) -> tuple[Any, float]:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        spent = 0.0
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.llm.max_retries + 1),
            wait=wait_exponential_jitter(initial=RETRY_WAIT_INITIAL_S, max=RETRY_WAIT_MAX_S, jitter=RETRY_WAIT_INITIAL_S),
            retry=retry_if_exception(is_retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._check_budget(issue_id, len(json.dumps(request)))
                    started = time.perf_counter()
                    try:
                        response = self.client.messages.create(**request)
                    except Exception as exc:
                        self._record(issue_id=issue_id, step=step, started=started, outcome=f"error: {_describe(exc)}", request=request)
                        raise
                    spent += self._record(issue_id=issue_id, step=step, started=started, outcome="ok", request=request, response=response)
                    return response, spent
        except BudgetExceeded:
            raise
        except Exception as exc:
            import anthropic

            if isinstance(exc, anthropic.AnthropicError):
                attempts = retrying.statistics.get("attempt_number", 1)
                raise StepFailed(f"LLM call failed after {attempts} attempt(s): {_describe(exc)}") from None
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def ask(self, *, issue_id: int | None, step: str, system: str, prompt: str, tool: dict[str, Any], answer: type[Answer]) -> tuple[Answer, float]:
        """Force `tool`, validate its input as `answer`; one more try with the validation error."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        total = 0.0
        problem = ""
        for _ in range(2):
            request = {
                "model": self.model,
                "max_tokens": self.settings.llm.max_tokens,
                "system": system,
                "messages": messages,
                "tools": [tool],
                "tool_choice": {"type": "tool", "name": tool["name"]},
            }
            response, cost = self._create(issue_id, step, request)
            total += cost
            block = next((b for b in response.content if getattr(b, "type", "") == "tool_use" and b.name == tool["name"]), None)
            if block is None:
                problem = f"the answer did not call {tool['name']}"
                messages = messages + [
                    {"role": "assistant", "content": [b.model_dump() for b in response.content] or [{"type": "text", "text": "(empty)"}]},
                    {"role": "user", "content": f"You must answer by calling the {tool['name']} tool."},
                ]
                continue
            try:
                return answer.model_validate(block.input), total
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                messages = messages + [
                    {"role": "assistant", "content": [block.model_dump()]},
                    {"role": "user", "content": [{
                        "type": "tool_result", "tool_use_id": block.id, "is_error": True,
                        "content": f"Invalid {tool['name']} input: {problem}. Call {tool['name']} again with every field valid.",
                    }]},
                ]
        raise StepFailed(f"LLM answer was not a valid {tool['name']} after a retry: {problem}")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + (f": {text[:200]}" if text else "")
