"""Final confidence: the provider's number adjusted by history and risk, clamped to [0, 0.95]."""

from __future__ import annotations

import re
from typing import Any

SENSITIVE_PATH = re.compile(r"(?i)(?:^|/)[^/]*(?:auth|crypto|payment|billing|permission|security|oauth|login|password)[^/]*(?:/|$)")
CEILING = 0.95  # never fully sure


def adjust(provider_confidence: float, *, family_fixed: int, culprit_path: str | None, affected_files: list[str], estimated_minutes: int) -> tuple[float, list[dict[str, Any]]]:
    adjustments: list[dict[str, Any]] = []
    if family_fixed >= 5:
        adjustments.append({"delta": 0.10, "reason": f"{family_fixed} earlier issues of this family were fixed without rollback"})
    elif family_fixed >= 2:
        adjustments.append({"delta": 0.05, "reason": f"{family_fixed} earlier issues of this family were fixed without rollback"})
    sensitive = [p for p in ([culprit_path] if culprit_path else []) if SENSITIVE_PATH.search(p)]
    if sensitive:
        adjustments.append({"delta": -0.20, "reason": f"culprit {sensitive[0]} is on a security-sensitive path"})
    if len(set(affected_files)) > 5:
        adjustments.append({"delta": -0.10, "reason": f"{len(set(affected_files))} files involved (more than 5)"})
    if estimated_minutes > 120:
        adjustments.append({"delta": -0.10, "reason": f"estimated {estimated_minutes} minutes to fix (more than 120)"})
    final = provider_confidence + sum(a["delta"] for a in adjustments)
    clamped = round(min(CEILING, max(0.0, final)), 4)
    if clamped != round(final, 4):
        adjustments.append({"delta": round(clamped - final, 4), "reason": f"clamped to [0, {CEILING}]"})
    return clamped, adjustments
