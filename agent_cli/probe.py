"""One HTTP probe of a health URL, shared by the http source (scan) and release checks (verify, rollback)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Probe:
    url: str
    status: int | None = None  # None: no answer (refused, timed out, not HTTP)
    latency_ms: float = 0.0
    error: str = ""  # why there was no answer
    timed_out: bool = False
    body: Any = None  # the JSON body, when asked for and parseable

    @property
    def answered(self) -> bool:
        return self.status is not None


def probe(url: str, *, method: str = "GET", timeout_s: float = 10.0, client: Any = None, want_json: bool = False) -> Probe:
    """Ask `url` once; never raises for a network failure (it is in `error`). Redirects are not followed."""
    import httpx

    own = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    result = Probe(url)
    started = time.perf_counter()
    try:
        response = client.request(method, url, timeout=timeout_s)
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.status = response.status_code
        if want_json:
            try:
                result.body = response.json()
            except ValueError:
                result.body = None
    except httpx.TimeoutException:
        result.error, result.timed_out = f"no answer within {timeout_s:g}s", True
    except httpx.HTTPError as exc:
        result.error = f"down: {(str(exc) or type(exc).__name__)[:200]}"
    finally:
        if own:
            client.close()
    if not result.answered:
        result.latency_ms = (time.perf_counter() - started) * 1000
    return result
