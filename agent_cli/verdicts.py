"""Sample verdicts and what a run of them counts: the vocabulary of a deployment's health samples.

Argo Rollouts' semantics: each measurement is successful, failed, inconclusive or error. Failures and
errors are counted apart, in a row; a successful sample resets both, an inconclusive one neither.
Read by release.assess (which decides a deployment's phase from the counts) and by the dashboard (which
shows them), so it imports nothing of either.
"""

from __future__ import annotations

from collections.abc import Sequence

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR = "successful", "failed", "inconclusive", "error"
VERDICTS = (SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR)


def counters(verdicts: Sequence[str]) -> dict[str, int]:
    """Consecutive failures and errors at the end of `verdicts`, and the successful samples in all."""
    failures = errors = 0
    for v in verdicts:
        if v == SUCCESSFUL:
            failures = errors = 0
        elif v == FAILED:
            failures += 1
        elif v == ERROR:
            errors += 1
    return {"consecutive_failures": failures, "consecutive_errors": errors, "successful": sum(v == SUCCESSFUL for v in verdicts),
            "samples": len(verdicts)}
