"""Calls to Claude through the official SDK: forced tool use, validation, budget, retries, records.

Retries live here and only here (the one retry layer, agent_cli.retry); the SDK's own retries are off.
Every HTTP attempt is recorded in `llm_calls` with tokens, cost, latency and
outcome. The budget is checked before each attempt and fails closed.

Model answers are untrusted, and so is the body that carries them. The SDK
does not validate a 200 response: it returns a plain `str` for a non-JSON
content type, a `Message` whose `content` and `usage` are `None` for an error
object or a body without them, lets negative / float / string / infinite /
beyond-64-bit token counts through as they are, and raises a bare
`json.JSONDecodeError` (not an `AnthropicError`) for truncated JSON. So the
body is read raw and checked here: whatever is not a Messages-API message is
a `MalformedResponse`, recorded as an `error:` row in `llm_calls`, audited
as `llm-error`, and surfaces as `StepFailed`. Token counts are clamped (see
`clamp_tokens`) and the clamp is named in the recorded outcome.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent_cli import audit, retry
from agent_cli.config import Settings
from agent_cli.errors import AgentError, ConfigError, PolicyRefused, StepFailed
from agent_cli.llm_answer import (  # noqa: F401  (re-exported: the accounting is part of this module's face)
    MALFORMED_KINDS,
    MAX_TOKENS_PER_CALL,
    PRICES_PER_MTOK,
    RETRYABLE_MALFORMED_KINDS,
    SQLITE_INT_MAX,
    MalformedResponse,
    Usage,
    _block_param,
    _one_line,
    clamp_tokens,
    cost_usd,
    decode_body,
    message_problem,
    price_for,
    read_usage,
)
from agent_cli.retry import RETRYABLE_STATUS
from agent_cli.state import State, utcnow

# Retryable failures, as data (agent_cli.retry): HTTP statuses, plus any connection error or timeout.
RETRY_WAIT_INITIAL_S = 0.5
RETRY_WAIT_MAX_S = 20.0
STORED_TEXT_LIMIT = 200_000

Answer = TypeVar("Answer", bound=BaseModel)


class BudgetExceeded(PolicyRefused):
    pass


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

    if isinstance(exc, MalformedResponse):
        return exc.kind in RETRYABLE_MALFORMED_KINDS
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

    def __init__(self, settings: Settings, state: State, *, client: Any = None, run_id: str | None = None) -> None:
        self.settings = settings
        self.state = state
        self.model = settings.llm.model
        self.run_id = run_id
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

    def _record(
        self, *, issue_id: int | None, step: str, started: float, outcome: str, request: dict[str, Any],
        body: bytes | None = None, usage: Usage | None = None, malformed: MalformedResponse | None = None, status: int | None = None,
    ) -> float:
        """One `llm_calls` row (and, for a malformed answer, its `llm-error` audit record, in the same transaction)."""
        usage = usage or Usage()
        cost = cost_usd(self.model, usage.input_tokens, usage.output_tokens)
        with self.state.transaction() as db:
            cur = db.execute(
                "INSERT INTO llm_calls(ts, issue_id, step, model, input_tokens, output_tokens, cost_usd, latency_ms, outcome, prompt, response) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [utcnow(), issue_id, step, self.model, usage.input_tokens, usage.output_tokens, cost, round((time.perf_counter() - started) * 1000, 1),
                 outcome[:500], json.dumps(request)[:STORED_TEXT_LIMIT],
                 (body or b"")[:STORED_TEXT_LIMIT].decode("utf-8", errors="replace")],
            )
            if malformed is not None:
                audit.record(
                    self.state, step=step, decision="llm-error", issue_id=issue_id, run_id=self.run_id,
                    reason=f"malformed LLM answer ({malformed.kind}): {malformed.message}"[:500],
                    details={"llm_call_id": cur.lastrowid, "kind": malformed.kind, "http_status": status,
                             "retryable": malformed.kind in RETRYABLE_MALFORMED_KINDS, "usage_clamped": usage.flags},
                )
        return cost

    def _attempt(self, issue_id: int | None, step: str, request: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """One HTTP attempt, recorded: (the message as checked JSON, its cost)."""
        import anthropic

        request_chars = len(json.dumps(request))
        self._check_budget(issue_id, request_chars)
        started = time.perf_counter()
        try:
            raw = self.client.messages.with_raw_response.create(**request)
            http = raw.http_response
            status, content_type, body = int(http.status_code), str(http.headers.get("content-type", "")), bytes(http.content)
        except anthropic.AnthropicError as exc:  # status errors, connection errors, timeouts
            self._record(issue_id=issue_id, step=step, started=started, outcome=f"error: {_describe(exc)}", request=request)
            raise
        except Exception as exc:  # the SDK could not even read the answer
            malformed = MalformedResponse("unreadable", f"{type(exc).__name__}: {_one_line(exc, 120)}")
            charged = read_usage(None, request_chars=request_chars, max_tokens=self.settings.llm.max_tokens)
            malformed.cost = self._record(issue_id=issue_id, step=step, started=started, outcome=f"error: malformed response: {malformed}",
                                          request=request, usage=charged, malformed=malformed)
            raise malformed from None
        usage: Usage | None = None
        try:
            data = decode_body(body, status, content_type)
            usage = read_usage(data.get("usage"), request_chars=request_chars, max_tokens=self.settings.llm.max_tokens)
            problem = message_problem(data)
            if problem is None and usage.unstorable:
                problem = MalformedResponse("unstorable-usage", "usage numbers no database could store: " + ", ".join(usage.unstorable))
            if problem is not None:
                raise problem
        except MalformedResponse as malformed:
            if usage is None:  # unreadable body: charged as the most this request could have used
                usage = read_usage(None, request_chars=request_chars, max_tokens=self.settings.llm.max_tokens)
            clamped = f" (usage clamped: {', '.join(usage.flags)})" if usage.flags else ""
            malformed.cost = self._record(issue_id=issue_id, step=step, started=started, outcome=f"error: malformed response: {malformed}{clamped}",
                                          request=request, body=body, usage=usage, malformed=malformed, status=status)
            raise
        outcome = f"ok (usage clamped: {', '.join(usage.flags)})" if usage.flags else "ok"
        cost = self._record(issue_id=issue_id, step=step, started=started, outcome=outcome, request=request, body=body, usage=usage)
        return data, cost

    def _create(self, issue_id: int | None, step: str, request: dict[str, Any]) -> tuple[dict[str, Any], float]:
        import anthropic

        retrying = retry.retrying(self.settings.llm.max_retries, is_retryable, wait_initial_s=RETRY_WAIT_INITIAL_S, wait_max_s=RETRY_WAIT_MAX_S)
        spent = 0.0  # malformed answers are charged too, should a kind of them be made retryable
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        message, cost = self._attempt(issue_id, step, request)
                    except MalformedResponse as exc:
                        spent += exc.cost
                        raise
                    return message, spent + cost
        except (MalformedResponse, anthropic.AnthropicError) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            what = f"malformed response ({exc.kind}): {exc.message}" if isinstance(exc, MalformedResponse) else _describe(exc)
            raise StepFailed(f"LLM call failed after {attempts} attempt(s): {what}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def ask(self, *, issue_id: int | None, step: str, system: str, prompt: str, tool: dict[str, Any], answer: type[Answer]) -> tuple[Answer, float]:
        """Force `tool`, validate its input as `answer`; one more try with the validation error.

        Raises StepFailed or BudgetExceeded (or another AgentError), nothing else.
        """
        try:
            return self._ask(issue_id=issue_id, step=step, system=system, prompt=prompt, tool=tool, answer=answer)
        except AgentError:
            raise
        except Exception as exc:  # a bug or a broken state file must not become a traceback
            raise StepFailed(f"LLM call failed: {type(exc).__name__}: {_one_line(exc)}") from exc

    def _ask(self, *, issue_id: int | None, step: str, system: str, prompt: str, tool: dict[str, Any], answer: type[Answer]) -> tuple[Answer, float]:
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
            message, cost = self._create(issue_id, step, request)
            total += cost
            blocks: list[dict[str, Any]] = message["content"]  # checked by message_problem
            block = next((b for b in blocks if b["type"] == "tool_use" and b["name"] == tool["name"]), None)
            if block is None:
                problem = f"the answer did not call {tool['name']}"
                sent_back = [p for p in map(_block_param, blocks) if p is not None]
                messages = messages + [
                    {"role": "assistant", "content": sent_back or [{"type": "text", "text": "(empty)"}]},
                    {"role": "user", "content": f"You must answer by calling the {tool['name']} tool."},
                ]
                continue
            try:
                return answer.model_validate(block["input"]), total
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                messages = messages + [
                    {"role": "assistant", "content": [_block_param(block)]},
                    {"role": "user", "content": [{
                        "type": "tool_result", "tool_use_id": block["id"], "is_error": True,
                        "content": f"Invalid {tool['name']} input: {problem}. Call {tool['name']} again with every field valid.",
                    }]},
                ]
        raise StepFailed(f"LLM answer was not a valid {tool['name']} after a retry: {_one_line(problem, 500)}")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + (f": {text[:200]}" if text else "")
