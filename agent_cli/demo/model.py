"""A server on 127.0.0.1 speaking enough of the Anthropic Messages API for the real SDK, and the demo's scripted model.

`MessagesServer` is the HTTP part (the tests' fake API builds on it too); `ScriptedModel` plays a model
that proposes a plausible fix which passes the tests and still breaks the site, so the demo can show what
staging verification is for. It answers by the tool the request offers, as today's models do (no forcing).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Reply = tuple[int, bytes, str]  # status, body, content type


class MessagesServer:
    """POST bodies go to `respond(body) -> (status, body, content type)`; run it with `with`."""

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, data, content_type = server.respond(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def respond(self, body: bytes) -> Reply:  # pragma: no cover - every server says its own
        raise NotImplementedError

    @staticmethod
    def json_reply(status: int, payload: dict[str, Any]) -> Reply:
        return status, json.dumps(payload).encode(), "application/json"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _message(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_demo", "type": "message", "role": "assistant", "model": "demo-scripted",
        "content": [{"type": "tool_use", "id": f"toolu_{name}", "name": name, "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 900, "output_tokens": 250},
    }


class ScriptedModel(MessagesServer):
    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[str] = []

    def respond(self, body: bytes) -> Reply:
        request = json.loads(body or b"{}")
        tool = next((t.get("name", "") for t in request.get("tools") or [] if isinstance(t, dict)), "")
        self.calls.append(tool)
        answer = self.answers.get(tool)
        if answer is None:
            return self.json_reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": f"the demo model has no answer for {tool!r}"}})
        return self.json_reply(200, _message(tool, answer))
