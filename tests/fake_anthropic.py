"""A small local server speaking the Anthropic Messages API, scripted per test.

The real `anthropic` SDK reaches it through `base_url`; it records every
request body it receives so tests can assert on what left the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def tool_reply(name: str, tool_input: dict[str, Any], *, input_tokens: int = 1000, output_tokens: int = 200) -> tuple[int, dict[str, Any]]:
    return 200, {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "tool_use", "id": f"toolu_{name}", "name": name, "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
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


class FakeAnthropic:
    def __init__(self) -> None:
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.raw_bodies.append(body)
                fake.requests.append(json.loads(body))
                step = fake.script.popleft() if fake.script else error_reply(500, "api_error", "script exhausted")
                if isinstance(step, (int, float)):  # hang longer than the client waits
                    time.sleep(step)
                    step = error_reply(500, "api_error", "too late")
                if isinstance(step, RawReply):
                    status, data, content_type = step.status, step.body, step.content_type
                else:
                    status, payload = step
                    data, content_type = json.dumps(payload).encode(), "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeAnthropic":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
