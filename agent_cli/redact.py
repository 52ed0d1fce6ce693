"""Secret redaction: applied to anything that leaves the machine (LLM prompts, webhooks).

Each pattern names its kind, so a redacted prompt still tells the model what
stood there: `[REDACTED:aws-access-key]`.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"), "[REDACTED:private-key]"),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}"), "[REDACTED:anthropic-key]"),
    ("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}"), "[REDACTED:openai-key]"),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:aws-access-key]"),
    ("aws-secret-key", re.compile(r"(?i)(aws_?secret_?(?:access_?)?key\s*[=:]\s*[\"']?)[A-Za-z0-9/+=]{40}"), r"\1[REDACTED:aws-secret-key]"),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})\b"), "[REDACTED:github-token]"),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "[REDACTED:slack-token]"),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"), "[REDACTED:slack-webhook]"),
    ("stripe-key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bwhsec_[A-Za-z0-9]{16,}\b"), "[REDACTED:stripe-key]"),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED:jwt]"),
    ("bearer-token", re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[REDACTED:bearer-token]"),
    ("url-password", re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)", re.IGNORECASE), r"\1[REDACTED:password]\2"),
    (
        "secret-value",
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|auth_token|api_key|apikey|api-key)"
            r"[\"']?\s*[=:]\s*[\"']?)(?!\[REDACTED)[^\s\"'&,;}]+"
        ),
        r"\1[REDACTED:secret]",
    ),
)
# In code, `token = request.headers["X"]` is not a secret; a quoted literal assigned to such a name is.
_CODE_LITERAL_SECRET = re.compile(
    r"(?i)\b\w*(?:password|passwd|secret|token|api_?key|access_?key|private_?key)\w*[\"']?\s*[=:]\s*[\"'][^\"'\s]{8,}[\"']"
)
_CONTEXT_ONLY = {"secret-value", "bearer-token"}  # patterns for log text, too eager for code
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


def redact(text: str, *, emails: bool = True) -> str:
    """`text` with every known kind of secret (and, by default, email addresses) replaced."""
    for _kind, pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    if emails:
        text = _EMAIL.sub("[REDACTED:email]", text)
    return text


def find_secrets(code: str) -> list[str]:
    """Kinds of secret present in source `code` (emails excluded): used to refuse a fix that adds one."""
    kinds = [kind for kind, pattern, _ in _PATTERNS if kind not in _CONTEXT_ONLY and pattern.search(code)]
    if _CODE_LITERAL_SECRET.search(code):
        kinds.append("secret-literal")
    return kinds
