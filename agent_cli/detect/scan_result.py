"""What one scan did: events read, issues made, updated, regressed or ignored, and per-source counts.

Made by detect.scan and read by detect.related (which links the issues a scan touched), so it sits
below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScanResult:
    events: int = 0
    new_issues: list[dict[str, Any]] = field(default_factory=list)
    updated_issues: list[dict[str, Any]] = field(default_factory=list)
    regressions: list[int] = field(default_factory=list)
    # Issues a person ignored: their events are counted, nothing else happens (not "updated", never escalated).
    ignored: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "new_issues": self.new_issues,
            "updated_issues": self.updated_issues,
            "regressions": self.regressions,
            "ignored": self.ignored,
            "sources": self.sources,
        }
