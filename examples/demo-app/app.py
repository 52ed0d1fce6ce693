"""The demo shop: a small JSON web API on the Python standard library.

    python app.py --port 8000          # or PORT=8000 python app.py

Every request is logged as one JSON object per line to the file named by APP_LOG
(default logs/app.log); an unhandled exception is logged at level "error" with its
traceback in `exc_info`, and the client gets a 500.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shop


def route(path: str) -> tuple[int, dict]:
    """The response (status, JSON body) for GET `path`."""
    if path == "/health":
        return shop.health()
    if m := re.fullmatch(r"/users/(\d+)", path):
        user = shop.find_user(int(m[1]))
        return (200, user) if user else (404, {"error": "no such user"})
    if m := re.fullmatch(r"/orders/(\d+)/total", path):
        total = shop.order_total(int(m[1]))
        return (200, total) if total else (404, {"error": "no such order"})
    return 404, {"error": "not found"}


class Handler(BaseHTTPRequestHandler):
    server: "ShopServer"

    def do_GET(self) -> None:
        started = time.monotonic()
        path = self.path.split("?", 1)[0]
        try:
            status, body = route(path)
        except Exception as exc:  # any bug: log it whole, answer 500, keep serving
            status, body = 500, {"error": "internal server error"}
            self.server.log("error", f"{type(exc).__name__}: {exc}", method="GET", path=path, status=status, exc_info=traceback.format_exc())
        elapsed_ms = round((time.monotonic() - started) * 1000, 2)
        self.server.log("info", f"GET {path} {status}", method="GET", path=path, status=status, duration_ms=elapsed_ms)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        pass  # the JSON access line above replaces http.server's stderr line


class ShopServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, log_path: str) -> None:
        self.log_path = log_path
        self._log_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)

    def log(self, level: str, msg: str, **fields) -> None:
        """Append one JSON line to the log file."""
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "level": level, "msg": msg, **fields}
        with self._log_lock:
            os.makedirs(os.path.dirname(self.log_path) or ".", exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:  # opened per line: rotation and truncation are harmless
                f.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    server = ShopServer(args.port, os.environ.get("APP_LOG", "logs/app.log"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly on `kill`
    server.log("info", f"listening on 127.0.0.1:{server.server_address[1]}", pid=os.getpid())
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.log("info", "stopped", pid=os.getpid())


if __name__ == "__main__":
    main()
