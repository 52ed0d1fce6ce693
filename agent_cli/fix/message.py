"""The commit message of a fix."""

from __future__ import annotations

from typing import Any

from agent_cli.fix.validate import CommandResult


def commit_message(*, issue: dict[str, Any], diagnosis: dict[str, Any], summary: str, how: str, files: list[str],
                   validation: list[CommandResult], confidence: float) -> str:
    title = subject(summary.strip().splitlines()[0] if summary.strip() else "fix")
    testing = "\n".join(f"- `{r.command}`: {'passed' if r.ok else 'timed out' if r.timed_out else f'exit {r.exit_code}'}" for r in validation) or "- no validation commands configured"
    return (
        f"fix: {title}\n\n"
        f"Issue: #{issue['id']} {issue['title']} ({issue['severity']}, {issue['count']} events)\n"
        f"Root Cause: {diagnosis.get('root_cause', 'unknown')}\n"
        f"Fix: {how}\n"
        f"Impact: {', '.join(files) or 'none'}\n"
        f"Testing:\n{testing}\n\n"
        f"Agent-Issue: {issue['id']}\n"
        f"Agent-Severity: {issue['severity']}\n"
        f"Agent-Confidence: {confidence:.2f}\n"
    )


def subject(text: str, limit: int = 68) -> str:
    """`text` cut to `limit` at a word boundary, never inside a parenthesis (an unclosed one is dropped whole)."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    if cut.count("(") > cut.count(")"):
        cut = cut[: cut.rfind("(")]
    return cut.rstrip(" ,;:-") or text[:limit]
