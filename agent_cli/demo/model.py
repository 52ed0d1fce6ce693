"""The demo's scripted model: a server on 127.0.0.1 speaking enough of the Anthropic Messages API for the real SDK.

It plays a model that proposes a plausible fix which passes the tests and still breaks the site, so the
demo can show what staging verification is for. It answers by the tool the request forces.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _message(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_demo", "type": "message", "role": "assistant", "model": "demo-scripted",
        "content": [{"type": "tool_use", "id": f"toolu_{name}", "name": name, "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 900, "output_tokens": 250},
    }


class ScriptedModel:
    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                tool = (body.get("tool_choice") or {}).get("name", "")
                model.calls.append(tool)
                answer = model.answers.get(tool)
                status, payload = (200, _message(tool, answer)) if answer is not None else (
                    400, {"type": "error", "error": {"type": "invalid_request_error", "message": f"the demo model has no answer for {tool!r}"}})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "ScriptedModel":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
