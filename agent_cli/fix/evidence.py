"""How a fix was shown to remove the failure: `regression_test`, `related_failure_fixed` or `none`.

A fix is not a fix because validation stayed green. It is one when a test that
failed because of the bug now passes: a test the fix adds that fails on the
base (regression_test), or a failure the base already had whose output names
the issue (related_failure_fixed). A related failure that still fails after
the change blocks the attempt; only unrelated failures count as pre-existing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from agent_cli.fix.validate import CommandResult, failure_text

REGRESSION_TEST = "regression_test"
RELATED_FAILURE_FIXED = "related_failure_fixed"
NONE = "none"
_TEST_FILE = re.compile(r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]*\.py$|_test\.(py|go)$|\.(test|spec)\.[cm]?[jt]sx?$")


def is_test_path(path: str) -> bool:
    return bool(_TEST_FILE.search(PurePosixPath(path).as_posix()))


def repo_has_tests(paths: list[str]) -> bool:
    return any(is_test_path(p) for p in paths)


@dataclass
class Evidence:
    kind: str = NONE
    tests: list[str] = field(default_factory=list)  # the failures that show it
    detail: str = ""
    still_failing: list[str] = field(default_factory=list)  # related failures the change did not fix: these block

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def markers(issue: dict[str, Any], diagnosis: dict[str, Any]) -> list[str]:
    """What a failure's text must name to be about this issue: exception type, message, culprit file or function."""
    context = diagnosis.get("context") or {}
    culprit = diagnosis.get("culprit") or {}
    found = [issue.get("exception_type") or context.get("exception_type"), (context.get("message") or "").strip()[:120],
             culprit.get("path"), culprit.get("function")]
    return [m for m in dict.fromkeys(found) if m and len(m) >= 4 and m not in ("<module>", "<anonymous>")]


def _related(text: str, names: list[str]) -> bool:
    return any(name in text for name in names)


def assess(baseline: list[CommandResult], after: list[CommandResult], names: list[str],
           tests_only: list[CommandResult] | None = None) -> Evidence:
    """The evidence the runs give. `tests_only`: the runs with only the proposal's test changes applied to the base."""
    before = {r.command: r for r in baseline}
    evidence = Evidence()
    related_fixed: list[str] = []
    for result in after:
        base = before.get(result.command)
        if base is None:
            continue
        failed_before, failed_after = set(base.failures), set(result.failures)
        for failure in sorted(failed_before & failed_after):
            if _related(failure_text(base.output_tail, failure) or failure, names):
                evidence.still_failing.append(failure)
        related_fixed += [f for f in sorted(failed_before - failed_after) if _related(failure_text(base.output_tail, f) or f, names)]
    if tests_only:
        after_by = {r.command: r for r in after}
        proven: list[str] = []
        for run in tests_only:
            base, fixed = before.get(run.command), after_by.get(run.command)
            if base is None or fixed is None:
                continue
            new_on_base = set(run.failures) - set(base.failures)
            proven += sorted(new_on_base - set(fixed.failures))
        if proven:
            return Evidence(REGRESSION_TEST, proven, "fails on the base with only the new test, passes with the fix", evidence.still_failing)
        evidence.detail = "the proposal's test changes fail nothing on the base: they do not show the bug"
    if related_fixed:
        return Evidence(RELATED_FAILURE_FIXED, related_fixed, "failed on the base naming the issue; passes with the fix", evidence.still_failing)
    evidence.detail = evidence.detail or "no failing test named the issue before the change"
    return evidence
