"""The project's one retry layer (tenacity): what is retryable, as data, and how long to wait.

A `RetryOn` names the HTTP statuses and exception classes worth another try; `retrying()`
builds the tenacity loop every caller uses (the LLM client, the notifiers). Nothing heavy is
imported at module import: cron starts `agent` every five minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tenacity import Retrying

# Statuses that mean "try again later": timeout, conflict, rate limited, the server's trouble, overloaded.
RETRYABLE_STATUS: frozenset[int] = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
WAIT_INITIAL_S = 0.2
WAIT_MAX_S = 20.0


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (`status_code`, or `response.status_code`), if any."""
    code = getattr(exc, "status_code", None)
    if code is None:
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


@dataclass(frozen=True)
class RetryOn:
    """Retry an exception that is one of `exceptions`, or that carries a status in `statuses`.

    `status_errors` narrows which exceptions are asked for a status (default: any).
    """

    exceptions: tuple[type[BaseException], ...] = ()
    statuses: frozenset[int] = RETRYABLE_STATUS
    status_errors: tuple[type[BaseException], ...] = (BaseException,)

    def __call__(self, exc: BaseException) -> bool:
        if self.exceptions and isinstance(exc, self.exceptions):
            return True
        if isinstance(exc, self.status_errors):
            code = status_of(exc)
            return code is not None and code in self.statuses
        return False


def retrying(
    max_retries: int,
    retry_on: Callable[[BaseException], bool],
    *,
    wait_initial_s: float = WAIT_INITIAL_S,
    wait_max_s: float = WAIT_MAX_S,
    **kwargs: Any,
) -> "Retrying":
    """A tenacity `Retrying`: up to `max_retries` more attempts after the first, exponential
    backoff with jitter from `wait_initial_s` (capped at `wait_max_s`), the last error re-raised."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

    return Retrying(
        stop=stop_after_attempt(max(0, max_retries) + 1),
        # exponential from wait_initial_s plus up to wait_initial_s of jitter (tenacity 8 and 9 alike)
        wait=wait_exponential(multiplier=wait_initial_s, max=wait_max_s) + wait_random(0, wait_initial_s),
        retry=retry_if_exception(retry_on),
        reraise=True,
        **kwargs,
    )
