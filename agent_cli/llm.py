"""Calls to Claude through the official SDK: one tool offered, answers validated, budget, retries, records.

The request is shaped by the model catalog (agent_cli.llm_catalog): the tool is forced only
where the model's family accepts that, thinking is set to the lowest setting it accepts,
and the answer's blocks (thinking included) go back unchanged when the model is asked again.
An API that cannot be used (model gone, key refused, no credit, outage after retries) is
an `LLMUnavailable`, which the steps turn into the offline fallback (`[llm] on_failure`).

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
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent_cli import audit, clock, llm_catalog, outbox, retry
from agent_cli.config import Settings, anthropic_key, resolved_provider
from agent_cli.errors import AgentError, ConfigError, PolicyRefused, StepFailed
from agent_cli.llm_answer import (  # noqa: F401  (re-exported: the accounting is part of this module's face)
    MALFORMED_KINDS,
    MAX_TOKENS_PER_CALL,
    RETRYABLE_MALFORMED_KINDS,
    SQLITE_INT_MAX,
    MalformedResponse,
    Usage,
    _one_line,
    assistant_turn,
    clamp_tokens,
    decode_body,
    message_problem,
    read_usage,
    tool_call,
)
from agent_cli.llm_health import degraded, llm_status, mark_degraded, mark_recovered  # noqa: F401  (re-exported)
from agent_cli.retry import RETRYABLE_STATUS
from agent_cli.state import State, utcnow
from agent_cli.store import llm_calls

# Retryable failures, as data (agent_cli.retry): HTTP statuses, plus any connection error or timeout.
RETRY_WAIT_INITIAL_S = 0.5
RETRY_WAIT_MAX_S = 20.0
STORED_TEXT_LIMIT = 200_000

Answer = TypeVar("Answer", bound=BaseModel)


class BudgetExceeded(PolicyRefused):
    pass


class LLMUnavailable(StepFailed):
    """The API cannot be used now (model not found, key refused, no credit, outage after retries).

    `reason` is one line for records and `status`: what failed and what to change.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """What a call of `model` costs at the catalog's price (an unknown model: the dearest)."""
    return llm_catalog.price(model).cost(input_tokens, output_tokens)


def provider_name(settings: Settings) -> str:
    """`auto` means anthropic when ANTHROPIC_API_KEY is set, else offline; `anthropic` without a key is a usage error."""
    provider = resolved_provider(settings)
    if provider == "anthropic" and not anthropic_key():
        raise ConfigError("llm.provider is 'anthropic' but ANTHROPIC_API_KEY is not set")
    return provider


def is_retryable(exc: BaseException) -> bool:
    import anthropic

    if isinstance(exc, MalformedResponse):
        return exc.kind in RETRYABLE_MALFORMED_KINDS
    if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code in RETRYABLE_STATUS


def unusable_reason(exc: BaseException, model: str) -> str | None:
    """Why the API cannot be used, for a failure no retry fixed; None when the failure is the request's (a 400, a 413)."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
        return f"API unreachable ({_describe(exc)})"
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    status, text = exc.status_code, _error_text(exc)
    if status == 404:
        return f"model {model!r} not found (404): it may be retired; set [llm] model (default {llm_catalog.DEFAULT_MODEL!r})"
    if status == 401:
        return "API key refused (401): check ANTHROPIC_API_KEY"
    if status == 403:
        return f"API key not permitted (403): {text}"
    if status == 402 or (status == 400 and ("credit balance" in text.lower() or "billing" in text.lower())):
        return f"account out of credit ({status}): {text}"
    if status == 429 or status >= 500:
        return f"API overloaded or failing ({status}) after retries: {text}"
    return None


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return _one_line(message if isinstance(message, str) else str(exc), 160)


def spend(state: State, issue_id: int | None) -> tuple[float, float]:
    """(spent on this issue, spent today UTC). Raises BudgetExceeded if it cannot be read."""
    day_start = clock.current().now().replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    try:
        issue_spend = llm_calls.spent_on_issue(state, issue_id)
        day_spend = llm_calls.spent_since(state, day_start)
    except Exception as exc:  # fail closed: no reading, no call
        raise BudgetExceeded(f"LLM spend cannot be read ({exc}); not calling the model", rule="llm.budget-unreadable") from None
    return float(issue_spend), float(day_spend)


class ToolCaller:
    """One conversation with the model about one issue and step, answered through one tool."""

    def __init__(self, settings: Settings, state: State, *, client: Any = None, run_id: str | None = None) -> None:
        self.settings = settings
        self.state = state
        self.model = settings.llm.model
        self.family = llm_catalog.family(self.model)
        self.price = llm_catalog.price(self.model, settings.llm.price_input_per_mtok, settings.llm.price_output_per_mtok)
        self.run_id = run_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.Anthropic(
                api_key=anthropic_key(),
                base_url=self.settings.llm.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None,
                max_retries=0,  # retries are ours (tenacity), in one layer
                timeout=self.settings.llm.timeout_s,
            )
        return self._client

    def _check_budget(self, issue_id: int | None, request_chars: int) -> float:
        limits = self.settings.llm
        # Conservative: ~3 characters a token, and the whole max_tokens spent.
        projected = self.price.cost(round(request_chars / 3), limits.max_tokens)
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
        cost = self.price.cost(usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens)
        with self.state.transaction():
            call_id = llm_calls.insert(
                self.state, ts=utcnow(), issue_id=issue_id, step=step, model=self.model, input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens, thinking_tokens=usage.thinking_tokens, cost_usd=cost,
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
                outcome=outcome[:500], prompt=json.dumps(request)[:STORED_TEXT_LIMIT],
                response=(body or b"")[:STORED_TEXT_LIMIT].decode("utf-8", errors="replace"),
            )
            if malformed is not None:
                audit.record(
                    self.state, step=step, decision="llm-error", issue_id=issue_id, run_id=self.run_id,
                    reason=f"malformed LLM answer ({malformed.kind}): {malformed.message}"[:500],
                    details={"llm_call_id": call_id, "kind": malformed.kind, "http_status": status,
                             "retryable": malformed.kind in RETRYABLE_MALFORMED_KINDS, "usage_clamped": usage.flags},
                )
        return cost

    def _attempt(self, issue_id: int | None, step: str, request: dict[str, Any],
                 check: Callable[[dict[str, Any]], MalformedResponse | None] | None = None) -> tuple[dict[str, Any], float]:
        """One HTTP attempt, recorded: (the message as checked JSON, its cost). `check` adds a problem of the step's own."""
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
            if problem is None and check is not None:
                problem = check(data)
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

    def _create(self, issue_id: int | None, step: str, request: dict[str, Any],
                check: Callable[[dict[str, Any]], MalformedResponse | None] | None = None) -> tuple[dict[str, Any], float]:
        import anthropic

        retrying = retry.retrying(self.settings.llm.max_retries, is_retryable, wait_initial_s=RETRY_WAIT_INITIAL_S, wait_max_s=RETRY_WAIT_MAX_S)
        spent = 0.0  # malformed answers are charged too, should a kind of them be made retryable
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        message, cost = self._attempt(issue_id, step, request, check)
                    except MalformedResponse as exc:
                        spent += exc.cost
                        raise
                    mark_recovered(self.state)
                    return message, spent + cost
        except (MalformedResponse, anthropic.AnthropicError) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            what = f"malformed response ({exc.kind}): {exc.message}" if isinstance(exc, MalformedResponse) else _describe(exc)
            failed = f"LLM call failed after {attempts} attempt(s): {what}"
            reason = unusable_reason(exc, self.model)
            if reason is not None:
                raise LLMUnavailable(failed, reason) from None
            raise StepFailed(failed) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def ask(self, *, issue_id: int | None, step: str, system: str, prompt: str, tool: dict[str, Any], answer: type[Answer]) -> tuple[Answer, float]:
        """Offer `tool`, validate its input as `answer`; ask once more when the answer has no call or an invalid one.

        Raises StepFailed (LLMUnavailable when the API cannot be used) or BudgetExceeded (or another AgentError), nothing else.
        """
        try:
            return self._ask(issue_id=issue_id, step=step, system=system, prompt=prompt, tool=tool, answer=answer)
        except AgentError:
            raise
        except Exception as exc:  # a bug or a broken state file must not become a traceback
            raise StepFailed(f"LLM call failed: {type(exc).__name__}: {_one_line(exc)}") from exc

    def request(self, system: str, messages: list[dict[str, Any]], tool: dict[str, Any]) -> dict[str, Any]:
        """The Messages request for this model: what its family accepts of tool_choice, thinking and effort."""
        return {
            "model": self.model,
            "max_tokens": self.settings.llm.max_tokens,
            # The current models refuse a forced tool: the instruction is the prompt's (and the tool the only one offered).
            "system": f"{system}\n\nAnswer only by calling the {tool['name']} tool, once, with every field filled in; do not answer in text.",
            "messages": messages,
            "tools": [tool],
            **self.family.request_fields(self.settings.llm.thinking, tool["name"]),
        }

    def _ask(self, *, issue_id: int | None, step: str, system: str, prompt: str, tool: dict[str, Any], answer: type[Answer]) -> tuple[Answer, float]:
        name = tool["name"]
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        total = 0.0
        problem = ""
        rounds = 2
        for round_ in range(rounds):
            last = round_ == rounds - 1

            def no_call(data: dict[str, Any], last: bool = last) -> MalformedResponse | None:
                if not last or tool_call(data["content"], name) is not None:
                    return None
                kinds = ", ".join(dict.fromkeys(b["type"] for b in data["content"])) or "nothing"
                return MalformedResponse("no-tool-call", f"asked twice, the answer still did not call {name} (it held: {kinds})")

            message, cost = self._create(issue_id, step, self.request(system, messages, tool), check=no_call)
            total += cost
            blocks: list[dict[str, Any]] = message["content"]  # checked by message_problem
            block = tool_call(blocks, name)
            if block is None:  # text or thinking only: once more, in the same conversation, every block handed back
                messages = [*messages, assistant_turn(blocks), {"role": "user", "content": f"You must answer by calling the {name} tool."}]
                continue
            try:
                return answer.model_validate(block["input"]), total
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                # Every tool call of the turn needs its result; the one we read gets the validation error.
                results = [{"type": "tool_result", "tool_use_id": b["id"], "is_error": True,
                            "content": (f"Invalid {name} input: {problem}. Call {name} again with every field valid."
                                        if b is block else f"Only {name} is answered here.")}
                           for b in blocks if b["type"] == "tool_use"]
                messages = [*messages, assistant_turn(blocks), {"role": "user", "content": results}]
        raise StepFailed(f"LLM answer was not a valid {name} after a retry: {_one_line(problem, 500)}")


def fall_back(run: Any, *, issue_id: int, step: str, exc: LLMUnavailable | BudgetExceeded | None, instead: str) -> str:
    """Record that `step` uses the offline provider (`instead`) for this issue; returns the note kept with the result.

    `exc` None: this run already found the API unusable (`run.llm_down`), so no call was made. An unusable API (or the
    day's budget spent) marks the outage for `status`, spares the rest of this run further calls, and puts one
    notification per outage in the outbox; an issue's own budget concerns that issue only.
    """
    details: dict[str, Any] = {"provider": "offline", "instead": instead, "rule": getattr(exc, "rule", None)}
    if exc is None:
        note = str(run.llm_down)
    else:
        if isinstance(exc, LLMUnavailable):
            reason, outage = exc.reason, True
        else:
            reason, outage = f"budget spent ({exc.rule}): {exc.message}", exc.rule == "llm.max_cost_per_day_usd"
        note = f"llm unavailable: {_one_line(reason, 300)}"
        if outage:
            run.llm_down = note
            details["since"] = since = mark_degraded(run.state, reason, utcnow())["since"]
            # The dedupe key names the outage's start, which holds until a call succeeds: one message per outage.
            outbox.record(run.state, "agent_trouble", title="LLM unavailable: working offline", key=f"llm-degraded:{since}",
                          message=f"{note}. Diagnoses and fixes use the offline analyser until a call succeeds.", run_id=run.run_id)
    run.audit(step=step, decision="llm-fallback", issue_id=issue_id, reason=f"{note}; {instead} instead", details=details)
    return note


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + (f": {text[:200]}" if text else "")


def call_log(state: State, *, issue_id: int | None = None, limit: int = 20, prompts: bool = False) -> list[dict[str, Any]]:
    """The recorded calls, newest first; with `prompts`, the (redacted) prompt each one sent."""
    rows = llm_calls.log(state, issue_id=issue_id, limit=limit)
    for row in rows:
        stored = row.pop("prompt")
        if prompts:
            row["prompt"] = _prompt_text(stored)
    return rows


def _prompt_text(stored: str | None) -> str:
    """The user turns of a stored request (what we wrote, redacted before it was sent), else the stored text."""
    try:
        request = json.loads(stored or "")
        turns = [m["content"] for m in request["messages"] if m.get("role") == "user" and isinstance(m.get("content"), str)]
        return "\n\n".join(turns)
    except (ValueError, KeyError, TypeError):
        return stored or ""
