"""A local server speaking the Anthropic Messages API, scripted per test, that behaves like today's models.

The real `anthropic` SDK reaches it through `base_url`; it records every request body it
receives so tests can assert on what left the machine. Before a scripted reply is used, the
request is checked the way the API checks it (the facts of Anthropic's model documentation,
kept here apart from agent_cli.llm_catalog so that a wrong catalog fails a test):
- a retired model gets 404 `not_found_error`;
- the 5.5 models answer forced tool use (`tool` or `any`) and `thinking: disabled` with 400;
- thinking is refused with a forced tool on every model;
- an assistant turn must be one this server sent, block for block (thinking blocks are
  signed and tied to the conversation), else 400.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from agent_cli.demo.model import MessagesServer, Reply

RETIRED = frozenset({"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-sonnet-4", "claude-opus-4", "claude-opus-4-1"})
NO_FORCED_TOOL = ("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5", "claude-fable-5")  # prefixes
NO_THINKING_DISABLED = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5")


def _signature(thinking: str) -> str:
    return "sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:32]


def thinking_block(text: str = "Reading the trace: the None comes from the lookup.") -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": _signature(text)}


def tool_reply(name: str, tool_input: dict[str, Any], *, input_tokens: int = 1000, output_tokens: int = 200,
               thinking: str | None = None, thinking_tokens: int | None = None) -> tuple[int, dict[str, Any]]:
    """A message calling `name`; with `thinking`, a thinking block comes first, as the 5.5 models send it."""
    content: list[dict[str, Any]] = [thinking_block(thinking)] if thinking else []
    content.append({"type": "tool_use", "id": f"toolu_{name}", "name": name, "input": tool_input})
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if thinking_tokens is not None:
        usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
    return 200, {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
        "content": content, "stop_reason": "tool_use", "stop_sequence": None, "usage": usage,
    }


def text_reply(text: str = "The lookup returns None for unknown ids; I would guard it.", *, thinking: str | None = "Let me look.",
               ) -> tuple[int, dict[str, Any]]:
    """A message with no tool call (thinking and text, or thinking only with text='')."""
    content: list[dict[str, Any]] = [thinking_block(thinking)] if thinking else []
    if text:
        content.append({"type": "text", "text": text})
    return 200, {
        "id": "msg_text", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5", "content": content,
        "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 900, "output_tokens": 80},
    }


def error_reply(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"type": "error", "error": {"type": kind, "message": message}}


@dataclass(frozen=True)
class RawReply:
    """A script step sent byte for byte: any status, body and content type (HTML, truncated JSON, 1e999...)."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


def raw_reply(body: bytes | str, *, status: int = 200, content_type: str = "application/json") -> RawReply:
    return RawReply(body.encode() if isinstance(body, str) else body, status, content_type)


def message_reply(**fields: Any) -> tuple[int, dict[str, Any]]:
    """A report_diagnosis-shaped 200 message with any top-level field replaced (None drops it)."""
    _, message = tool_reply("report_diagnosis", {})
    message = {**message, **fields}
    return 200, {k: v for k, v in message.items() if v is not None}


def api_refusal(request: dict[str, Any], *, retired: frozenset[str] = RETIRED,
                sent: list[list[dict[str, Any]]] | None = None) -> tuple[int, dict[str, Any]] | None:
    """What the API answers a request it will not take, or None. `sent`: the contents answered so far in this conversation."""
    model = str(request.get("model", ""))
    if model in retired:
        return error_reply(404, "not_found_error", f"model: {model}")
    choice = (request.get("tool_choice") or {}).get("type")
    thinking = (request.get("thinking") or {}).get("type")
    if choice in ("tool", "any") and model.startswith(NO_FORCED_TOOL):
        return error_reply(400, "invalid_request_error", f"tool_choice.type '{choice}' is not supported with this model; use 'auto'")
    if thinking == "disabled" and model.startswith(NO_THINKING_DISABLED):
        return error_reply(400, "invalid_request_error", "thinking.type 'disabled' is not supported for this model; use 'between_tools'")
    if choice in ("tool", "any") and thinking not in (None, "disabled"):
        return error_reply(400, "invalid_request_error", "Thinking may not be enabled when tool_choice forces tool use.")
    for i, turn in enumerate(request.get("messages") or []):
        if isinstance(turn, dict) and turn.get("role") == "assistant" and turn.get("content") not in (sent or []):
            return error_reply(400, "invalid_request_error", f"messages.{i}: the assistant turn is not one this model sent, unchanged")
    return None


class FakeAnthropic(MessagesServer):
    def __init__(self, *, retired: frozenset[str] | set[str] = RETIRED) -> None:
        super().__init__()
        self.retired = frozenset(retired)
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
        self.rejected: list[str] = []  # why requests were refused before the script was read
        self.sent: list[list[dict[str, Any]]] = []  # the content of every message sent

    def respond(self, body: bytes) -> Reply:
        self.raw_bodies.append(body)
        request = json.loads(body)
        self.requests.append(request)
        refused = api_refusal(request, retired=self.retired, sent=self.sent)
        if refused is not None:
            self.rejected.append(refused[1]["error"]["message"])
        step = refused or (self.script.popleft() if self.script else error_reply(500, "api_error", "script exhausted"))
        if isinstance(step, (int, float)):  # hang longer than the client waits
            time.sleep(step)
            step = error_reply(500, "api_error", "too late")
        if isinstance(step, RawReply):
            return step.status, step.body, step.content_type
        status, payload = step
        if status == 200 and isinstance(payload.get("content"), list):
            self.sent.append(payload["content"])
        return self.json_reply(status, payload)
