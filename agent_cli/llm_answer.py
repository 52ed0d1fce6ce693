"""What a Messages-API answer is worth and whether it is one: prices, token clamping, body checks.

Pure functions over untrusted data; `agent_cli.llm` makes the calls and records them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

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
# Kinds of malformed 2xx answers worth another attempt: none. A body that is not a
# Messages-API message is a broken or hostile endpoint, not a transient fault, and
# every retry is spend. Add a kind here to retry it.
MALFORMED_KINDS = frozenset({"unreadable", "not-json", "not-a-message", "error-object", "missing-content", "bad-content", "unstorable-usage"})
RETRYABLE_MALFORMED_KINDS: frozenset[str] = frozenset()
# The most tokens one call may be charged per field (input, output). No model takes or
# writes anywhere near this in one call, so a larger count is absurd; it is recorded as
# this cap, which still prices far above any budget, so the budget fails closed.
MAX_TOKENS_PER_CALL = 10_000_000
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1


class MalformedResponse(Exception):
    """A 2xx HTTP answer that is not a Messages-API message. `kind` is one of MALFORMED_KINDS."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.cost = 0.0  # what the attempt was charged, once recorded


def price_for(model: str) -> tuple[float, float]:
    best = max((p for p in PRICES_PER_MTOK if model.startswith(p)), key=len, default=None)
    return PRICES_PER_MTOK[best] if best else UNKNOWN_MODEL_PRICE


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    price_in, price_out = price_for(model)
    cost = (max(0, input_tokens) * price_in + max(0, output_tokens) * price_out) / 1_000_000
    return cost if cost > 0 else 0.0  # never negative (nor NaN)


# --- token accounting ------------------------------------------------------------------


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    flags: list[str] = field(default_factory=list)  # what was clamped, e.g. "input_tokens=-5 -> 0"
    unstorable: list[str] = field(default_factory=list)  # values SQLite could not have stored (inf, NaN, > 64 bits)


def _show(value: Any) -> str:
    """A short, single-line, escaped rendering of an untrusted value."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SQLITE_INT_MAX:
        return f"{'-' if value < 0 else ''}2**{value.bit_length() - 1}+"
    try:
        text = repr(value)
    except Exception:  # an int too long to print, or anything else odd
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def clamp_tokens(name: str, raw: Any, unknown: int) -> tuple[int, str | None, bool]:
    """One reported token count -> (tokens to record, flag or None, storable as reported).

    Integers in [0, MAX_TOKENS_PER_CALL] pass. Negatives count 0; larger counts and
    +inf count MAX_TOKENS_PER_CALL; a non-integer number is rounded up first. A value
    that is missing or not a number (string, bool, null, NaN) counts `unknown`: the
    most this request could have used (every request character a token, or the whole
    max_tokens). Spend is never lowered below a sane reading of what was reported.
    """
    storable = True
    if raw is None or isinstance(raw, bool) or not isinstance(raw, (int, float)) or (isinstance(raw, float) and math.isnan(raw)):
        storable = not (isinstance(raw, float) and math.isnan(raw))
        value = unknown
    elif isinstance(raw, float):
        if math.isinf(raw):
            storable = False
            value = MAX_TOKENS_PER_CALL if raw > 0 else 0
        else:
            value = math.ceil(raw)
    else:
        storable = SQLITE_INT_MIN <= raw <= SQLITE_INT_MAX
        value = raw
    value = min(max(value, 0), MAX_TOKENS_PER_CALL)
    exact = isinstance(raw, int) and not isinstance(raw, bool) and raw == value
    flag = None if exact else f"{name}={'missing' if raw is None else _show(raw)} -> {value}"
    return value, flag, storable


def read_usage(usage: Any, *, request_chars: int, max_tokens: int) -> Usage:
    usage = usage if isinstance(usage, dict) else {}
    result = Usage()
    for name, unknown in (("input_tokens", request_chars), ("output_tokens", max_tokens)):
        value, flag, storable = clamp_tokens(name, usage.get(name), min(unknown, MAX_TOKENS_PER_CALL))
        setattr(result, name, value)
        if flag:
            result.flags.append(flag)
        if not storable:
            result.unstorable.append(flag or name)
    return result


# --- the body of a 2xx answer -------------------------------------------------------------


def _one_line(text: Any, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def decode_body(body: bytes, status: int, content_type: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or MalformedResponse."""
    if "json" not in content_type.lower():
        raise MalformedResponse("not-json", f"HTTP {status} with content type {_one_line(content_type or 'none', 60)!r}, not JSON")
    try:
        data = json.loads(body)
    except Exception as exc:  # truncated or not JSON; also ints past Python's digit limit, nesting past recursion
        raise MalformedResponse("not-json", f"HTTP {status} body is not valid JSON ({type(exc).__name__}: {_one_line(exc, 80)})") from None
    if not isinstance(data, dict):
        raise MalformedResponse("not-a-message", f"HTTP {status} body is a JSON {type(data).__name__}, not a message object")
    return data


def message_problem(data: dict[str, Any]) -> MalformedResponse | None:
    """What makes `data` not a Messages-API message we can use, or None."""
    kind = data.get("type")
    if kind == "error":
        raw_error = data.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        return MalformedResponse("error-object", f"a 2xx answer carried an error object: {_one_line(error.get('type'), 60)}: {_one_line(error.get('message'))}")
    if kind != "message":
        return MalformedResponse("not-a-message", f"answer type is {_show(kind)}, not 'message'")
    if "content" not in data or data["content"] is None:
        return MalformedResponse("missing-content", "the message has no content")
    content = data["content"]
    if not isinstance(content, list):
        return MalformedResponse("bad-content", f"the message content is a {type(content).__name__}, not a list of blocks")
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return MalformedResponse("bad-content", f"content[{i}] is not a content block")
        if block["type"] == "tool_use" and not (
            isinstance(block.get("id"), str) and isinstance(block.get("name"), str) and isinstance(block.get("input"), dict)
        ):
            return MalformedResponse("bad-content", f"content[{i}] is a tool_use block without a string id and name and an object input")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            return MalformedResponse("bad-content", f"content[{i}] is a text block without text")
    return None


def _block_param(block: dict[str, Any]) -> dict[str, Any] | None:
    """A content block of ours to send back as the assistant's turn (unknown kinds are dropped)."""
    if block["type"] == "tool_use":
        return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": block["input"]}
    if block["type"] == "text" and block["text"]:
        return {"type": "text", "text": block["text"]}
    return None
