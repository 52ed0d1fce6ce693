"""What a Messages-API answer is worth and whether it is one: token clamping, body checks, the turn handed back.

Pure functions over untrusted data; `agent_cli.llm` makes the calls and records them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

# Kinds of malformed 2xx answers worth another attempt: none. A body that is not a
# Messages-API message is a broken or hostile endpoint, not a transient fault, and
# every retry is spend. Add a kind here to retry it.
MALFORMED_KINDS = frozenset({"unreadable", "not-json", "not-a-message", "error-object", "missing-content", "bad-content", "unstorable-usage",
                             "no-tool-call"})
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


# --- token accounting ------------------------------------------------------------------


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0  # part of output_tokens (usage.output_tokens_details.thinking_tokens)
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
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
    """Token counts of an untrusted `usage` object. Input and output are charged at the most the request could have
    used when missing; the breakdowns (thinking, cache) count 0 when missing, and thinking never exceeds output."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("output_tokens_details")
    details = details if isinstance(details, dict) else {}
    result = Usage()
    fields = (("input_tokens", usage.get("input_tokens"), request_chars), ("output_tokens", usage.get("output_tokens"), max_tokens),
              ("cache_write_tokens", usage.get("cache_creation_input_tokens", 0), 0),
              ("cache_read_tokens", usage.get("cache_read_input_tokens", 0), 0),
              ("thinking_tokens", details.get("thinking_tokens", 0), 0))
    for name, raw, unknown in fields:
        value, flag, storable = clamp_tokens(name, raw, min(unknown, MAX_TOKENS_PER_CALL))
        setattr(result, name, value)
        if flag:
            result.flags.append(flag)
        if not storable:
            result.unstorable.append(flag or name)
    result.thinking_tokens = min(result.thinking_tokens, result.output_tokens)
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
        if block["type"] == "thinking" and not (isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)):
            return MalformedResponse("bad-content", f"content[{i}] is a thinking block without string thinking and signature")
        if block["type"] == "redacted_thinking" and not isinstance(block.get("data"), str):
            return MalformedResponse("bad-content", f"content[{i}] is a redacted_thinking block without string data")
    return None


def tool_call(blocks: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The first call of tool `name` among checked content blocks."""
    return next((b for b in blocks if b["type"] == "tool_use" and b["name"] == name), None)


def assistant_turn(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer as the assistant's turn of the next request: every block exactly as received.

    Thinking blocks carry a signature over the conversation; the API refuses them changed, reordered or
    left out (5.5 models tie them to the model and the conversation), so nothing is rebuilt or dropped.
    """
    return {"role": "assistant", "content": list(blocks) or [{"type": "text", "text": "(empty)"}]}
