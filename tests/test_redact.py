"""Redaction: every pattern both ways: the secret is gone, ordinary text is untouched."""

from __future__ import annotations

import pytest

from agent_cli.redact import find_secrets, redact

SECRETS = [
    ("anthropic-key", "key sk-ant-api03-" + "a1B2" * 10 + " used", "sk-ant-api03-"),
    ("openai-key", "OPENAI_KEY sk-proj-" + "Z9y8" * 8, "sk-proj-"),
    ("aws-access-key", "id AKIAABCDEFGHIJKLMNOP here", "AKIAABCDEFGHIJKLMNOP"),
    ("aws-secret-key", "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "0123456789", "wJalrXUtnFEMI"),
    ("github-token", "token ghp_" + "x" * 36, "ghp_xxxx"),
    ("github-token", "github_pat_" + "A1" * 20, "github_pat_A1"),
    ("slack-token", "slack xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("slack-webhook", "post to https://hooks.slack.com/services/T000/B000/XXXX", "T000/B000"),
    ("stripe-key", "stripe sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39"),
    ("stripe-key", "whsec_" + "abcdef0123456789abcd", "whsec_abcdef"),
    ("jwt", "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3"),
    ("bearer-token", "Authorization: Bearer abc.def-123456789", "abc.def-123456789"),
    ("url-password", "postgres://app:s3cretpass@db.internal:5432/shop", "s3cretpass"),
    ("secret-value", "login failed password=hunter2 for user", "hunter2"),
    ("secret-value", '{"api_key": "k-12345678"}', "k-12345678"),
    ("secret-value", "token: abc123def456", "abc123def456"),
    ("private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"),
]
ORDINARY = [
    "GET /api/items/42 HTTP/1.1 200 3ms request_id=abc123",
    "AttributeError: 'NoneType' object has no attribute 'name'",
    "  File \"/app/app/views.py\", line 6, in get_item",
    "the token bucket refilled; password reset page rendered",
    "https://example.invalid/docs?page=2",
    "sk-learn model loaded; task-queue depth 5",
    "TypeError: Cannot read properties of undefined (reading 'id')",
]


@pytest.mark.parametrize("kind, text, secret", SECRETS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SECRETS)])
def test_each_secret_kind_is_redacted(kind: str, text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("code", [
    "KEY = 'sk-ant-api03-" + "x" * 30 + "'",
    "STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",
    'DB_PASSWORD = "correct-horse-battery"',
    "headers = {'api_key': 'k3y-9f8e7d6c5b'}",
    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
])
def test_secrets_added_in_code_are_found(code: str) -> None:
    assert find_secrets(code)


@pytest.mark.parametrize("code", [
    'token = request.headers["Authorization"]',
    "password = form.get('password')",
    "if not api_key:\n    raise MissingKey()",
    'secret_name = "db"',
])
def test_ordinary_code_about_secrets_is_not_flagged(code: str) -> None:
    assert find_secrets(code) == []


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text
    assert find_secrets(text) == []


def test_emails_are_optional() -> None:
    text = "user jane.doe@example.invalid failed"
    assert redact(text) == "user [REDACTED:email] failed"
    assert redact(text, emails=False) == text
