"""Redaction: every shape both ways: the secret is gone, ordinary text and code are untouched.

`find_secrets` (the fix gate's check) reads code: literals bound to secret-like names, token shapes
built by concatenation, and, in env-style files, unquoted `NAME=value`.
"""

from __future__ import annotations

import time

import pytest

from agent_cli.redact import find_secrets, is_env_style, redact

try:
    from tests.secret_shapes import CODE_SHAPES, SHAPES
except ModuleNotFoundError:  # bare `pytest` puts tests/, not the repo root, on sys.path
    from secret_shapes import CODE_SHAPES, SHAPES  # type: ignore[no-redef]

ALL_SHAPES = SHAPES + CODE_SHAPES


def _ids(rows: list[tuple[str, str, str]]) -> list[str]:
    return [f"{kind}-{i}" for i, (kind, _, _) in enumerate(rows)]


# --- the shapes table itself keeps its contract ----------------------------------------------

def test_shapes_table_keeps_its_contract() -> None:
    assert len(SHAPES) >= 60
    secrets = [secret for _, _, secret in ALL_SHAPES]
    assert len(set(secrets)) == len(secrets), "every secret is unique"
    for kind, text, secret in ALL_SHAPES:
        assert len(secret) >= 6, (kind, secret)
        assert text.count(secret) == 1, (kind, text)
        assert secret not in kind
        assert not set(secret) & set('"\\') and secret.isascii() and secret.isprintable(), (kind, secret)
    # No secret may turn up in any entry's redacted text: a test on received bytes can look for all at once.
    redacted = "\n".join(redact(text) for _, text, _ in ALL_SHAPES)
    assert [s for s in secrets if s in redacted] == []


# --- redact(): every shape ----------------------------------------------------------------

@pytest.mark.parametrize("kind, text, secret", SHAPES, ids=_ids(SHAPES))
def test_each_secret_shape_is_redacted(kind: str, text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED" in out


@pytest.mark.parametrize("kind, code, secret", CODE_SHAPES, ids=_ids(CODE_SHAPES))
def test_each_code_shape_is_redacted_and_found(kind: str, code: str, secret: str) -> None:
    out = redact(code)
    assert secret not in out
    assert "[REDACTED" in out
    assert find_secrets(code), code


@pytest.mark.parametrize("kind, text, secret", ALL_SHAPES, ids=_ids(ALL_SHAPES))
def test_redaction_is_idempotent(kind: str, text: str, secret: str) -> None:
    once = redact(text)
    assert redact(once) == once


@pytest.mark.parametrize("text, expected", [
    ("DB_PASSWORD=hunter2xyz", "DB_PASSWORD=[REDACTED:secret]"),
    ('{"password":"hunter2xyz"}', '{"password":"[REDACTED:secret]"}'),
    ('{"msg":"body={\\"password\\": \\"hunter2xyz\\"}"}', '{"msg":"body={\\"password\\": \\"[REDACTED:secret]\\"}"}'),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED:basic-auth]"),
    ("Cookie: sessionid=abc123def; csrftoken=zzz999yyy", "Cookie: sessionid=[REDACTED:cookie]; csrftoken=[REDACTED:cookie]"),
    ("Set-Cookie: session=abc123def; Path=/; HttpOnly", "Set-Cookie: session=[REDACTED:cookie]; Path=/; HttpOnly"),
    ("postgres://user:p@ss/w0rd@db.example:5432/x", "postgres://user:[REDACTED:password]@db.example:5432/x"),
    ("redis://:s3cret99@cache:6379", "redis://:[REDACTED:password]@cache:6379"),
    ("curl -u admin:s3cr3tpw https://x", "curl -u admin:[REDACTED:password] https://x"),
    ("db_password: str = 'x'", "db_password: str = '[REDACTED:secret]'"),
    ('requests.get(u, auth=("user", "pa55word"))', 'requests.get(u, auth=("user", "[REDACTED:password]"))'),
    ('{"Credentials":{"SessionToken":"abc123456","x":1}}', '{"Credentials":{"SessionToken":"[REDACTED:secret]","x":1}}'),
])
def test_labels_and_structure_survive_redaction(text: str, expected: str) -> None:
    # The model still sees what stood there, and JSON/headers/URLs keep their shape.
    assert redact(text) == expected


# --- redact(): what must survive ---------------------------------------------------------

ORDINARY = [
    "GET /api/items/42 HTTP/1.1 200 3ms request_id=abc123",
    "AttributeError: 'NoneType' object has no attribute 'name'",
    "  File \"/app/app/views.py\", line 6, in get_item",
    "the token bucket refilled; password reset page rendered",
    "https://example.invalid/docs?page=2",
    "sk-learn model loaded; task-queue depth 5",
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "password reset requested for user 42",
    "missing token",
    "token expired for user 42; please log in again",
    "invalid password for user=42",
    "Bearer authentication failed for client=web",
    "authorization failed for user 42",
    "authorization: denied",
    "api_key is missing from the request",
    "the secret to good logs is structure",
    "cookie consent banner shown",
    "max_tokens=4096 input_tokens=1200 output_tokens=300",
    '{"token_type": "bearer", "expires_in": 3600, "scope": "read"}',
    '{"level":"info","msg":"token refreshed","user_id":42}',
    "secret_name=db-creds rotated",
    "login failed: password=******** user=42",
    "password: null",
    "password_reset_url=https://example.invalid/reset",
    "PWD=/app HOME=/root",
    "docker run -u 1000:1000 app",
    "GET https://example.invalid:8443/users/@me 200",
    "commit 3f9a1c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 deployed",
    "bypass=true passed=12 failed=0",
    "keyboard=us monkey=1 signal=15",
    "cache_key=users:42 object_key=uploads/a.png",
    '"GET /index.html HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"',
]
ORDINARY_CODE = [
    'token = request.headers["X-Token"]',
    'password = os.environ["DB_PASSWORD"]',
    "secret = get_secret()",
    "if not token:\n    raise MissingToken()",
    "if not api_key:\n    raise MissingKey()",
    "def login(user: str, password: str) -> bool:",
    "password = form.get('password')",
    "api_key: str | None = None",
    "client.login(user, password=password)",
    "auth = (user, password)",
    'headers = {"Authorization": f"Bearer {token}"}',
    'TOKEN_HEADER = "X-Auth-Token"',
    'secret_name = "db"',
    'url = f"postgres://{user}:{password}@{host}/db"',
    'password = ""',
    'logger.info("password=%s", masked)',
    "prefix = " + '"gh' + 'p_" + suffix',
    'greeting = "hello " + "world"',
    "max_tokens = 4096",
    'token_url = "https://auth.example.invalid/token"',
    "cookie = request.cookies.get('session')",
    "authorization = request.headers.get('Authorization')",
    "secrets = sorted({kind for kind in found})",
    'env = {"ANTHROPIC_API_KEY": API_KEY, "DB_PASSWORD": db_password}',
]


@pytest.mark.parametrize("text", ORDINARY + ORDINARY_CODE)
def test_ordinary_text_and_code_are_untouched(text: str) -> None:
    assert redact(text) == text
    assert find_secrets(text) == []


def test_emails_are_optional() -> None:
    text = "user jane.doe@example.invalid failed"
    assert redact(text) == "user [REDACTED:email] failed"
    assert redact(text, emails=False) == text


def test_redact_stays_linear_on_hostile_input() -> None:
    # Each of these is ~200 KB; a pattern with nested or unbounded backtracking takes minutes on one.
    # (Before these rules, "a." * 40_000 alone took 28 s.)
    hostile = [
        "a." * 100_000, "a_" * 100_000, "a-" * 100_000, " " * 200_000, "password=" + "x" * 200_000,
        "postgres://" + "u:" * 100_000, '"x" ' * 50_000, '"a"+' * 50_000, "Cookie: " + "a=b;" * 50_000,
        "token=" * 35_000, "secrets=sorted(" * 15_000, "a@" * 100_000, '\\"password\\": \\"' * 15_000, "<password>" * 20_000,
    ]
    start = time.perf_counter()
    for text in hostile:
        redact(text)
    assert time.perf_counter() - start < 10


# --- find_secrets(): the fix gate --------------------------------------------------------

@pytest.mark.parametrize("code", [
    "KEY = 'sk-ant-api03-" + "x" * 30 + "'",
    "STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",
    'DB_PASSWORD = "correct-horse-battery"',
    "headers = {'api_key': 'k3y-9f8e7d6c5b'}",
    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
    'DATABASE_URL = "postgres://app:s3cretpass@db.internal:5432/shop"',
    'headers = {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}',
])
def test_secrets_added_in_code_are_found(code: str) -> None:
    assert find_secrets(code)


@pytest.mark.parametrize("code", [
    'password = "x"',
    'API_KEY="ab"',
    "db_password: str = 'x'",
    'const stripeSecret = "s"',
    '{"apiKey": "k"}',
    'conn = connect(host="db", password="pw")',
    'Github(login_or_token="t0k")',
    'requests.get(url, auth=("u", "p"))',
    'session.auth = ("deploy", "pw1")',
    "$password = 'x';",
    'os.environ["DB_PASSWORD"] = "x"',
])
def test_any_literal_bound_to_a_secret_name_is_found(code: str) -> None:
    kinds = find_secrets(code)
    assert kinds and set(kinds) <= {"secret-literal", "auth-tuple"}, kinds


@pytest.mark.parametrize("code, kind", [
    ('x = "' + "gh" + 'p_" + "' + "a1B2" * 9 + '"', "github-token"),
    ("k = 'sk-" + "ant-' + 'xyz'", "anthropic-key"),
    ('key_id = "AK' + 'IA" + "FAKEFAKEFAKEFAKE"', "aws-access-key"),
    ("key_id = 'AK" + "IAFAKE' + 'FAKEFAKEFAKE'", "aws-access-key"),
    ('KEY = (\n    "sk-ant-api03-"\n    "' + "Zz9" * 10 + '"\n)', "anthropic-key"),
    ("const t = 'xo" + "xb-' + '1234567890-abcdefghij';", "slack-token"),
    ('hook = "https://hooks." "slack.com/services/T0/B0/XXXX"', "slack-webhook"),
])
def test_tokens_built_by_concatenation_are_found(code: str, kind: str) -> None:
    assert kind in find_secrets(code)


@pytest.mark.parametrize("code", [
    'token = request.headers["X"]',
    'password = os.environ["DB_PASSWORD"]',
    "secret = get_secret()",
    "if not token:\n    return None",
    'password = ""',
    "api_key = None",
    'password = f"{prefix}{suffix}"',
    "auth = (user, pw)",
    'secret_name = "db"',
    'PASSWORD_FIELD = "password"',
    'password = "${DB_PASSWORD}"',
    'api_key = "<your-api-key>"',
    'token = "your-token-here"',
    'errors = {"password": "This field is required."}',
    "prefix = " + '"gh' + 'p_" + suffix',
    "DB_PASSWORD=hunter2",  # not an env-style file: a Python assignment from a name
])
def test_code_about_secrets_is_not_flagged(code: str) -> None:
    assert find_secrets(code) == []


@pytest.mark.parametrize("path, code", [
    (".env", "DB_PASSWORD=hunter2"),
    (".env.production", "export STRIPE_KEY=abc"),
    ("deploy/app.env", "API_KEY=abc"),
    ("settings.ini", "[db]\npassword = hunter2"),
    ("src/main/resources/application.properties", "spring.datasource.password=hunter2"),
    ("setup.cfg", "token = abc123"),
    ("docker-compose.yml", "    environment:\n      - POSTGRES_PASSWORD=example"),
    ("docker-compose.prod.yaml", "      POSTGRES_PASSWORD: example"),
    ("k8s/secret.yaml", "  password: aHVudGVyMg=="),
    ("Dockerfile", "ENV DB_PASS=abc"),
    ("scripts/deploy.sh", "export AUTH_TOKEN=abc123"),
    (".npmrc", "//registry.npmjs.org/:_authToken=abc123"),
    (".env", 'SECRET_KEY="x"'),
])
def test_unquoted_secrets_in_env_style_files_are_found(path: str, code: str) -> None:
    assert find_secrets(code, path=path)


@pytest.mark.parametrize("path, code", [
    (".env", "DB_PASSWORD="),
    (".env", "DB_PASSWORD=${DB_PASSWORD}"),
    (".env", "DEBUG=true\nPORT=8000\nDB_HOST=db"),
    (".env", "AUTH_ENABLED=true\nTOKEN_TTL=3600"),
    (".env.example", "API_KEY=your-api-key-here\nSECRET_KEY=changeme"),
    ("docker-compose.yml", "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}"),
    (".github/workflows/ci.yml", "        token: ${{ secrets.GITHUB_TOKEN }}"),
    ("scripts/deploy.sh", 'TOKEN=$(cat /run/secrets/token)\nPASSWORD="$1"'),
    ("app.py", "DB_PASSWORD=hunter2"),
    ("app.py", "token = request.headers['X']"),
])
def test_env_style_rule_keeps_placeholders_and_other_files(path: str, code: str) -> None:
    assert find_secrets(code, path=path) == []


@pytest.mark.parametrize("path, expected", [
    (".env", True), (".env.local", True), ("config/prod.env", True), ("app.ini", True), ("x.properties", True),
    ("setup.cfg", True), ("docker-compose.override.yml", True), ("Dockerfile", True), ("values.yaml", True),
    ("app/settings.py", False), ("src/index.ts", False), ("README.md", False), ("pyproject.toml", False),
])
def test_env_style_paths(path: str, expected: bool) -> None:
    assert is_env_style(path) is expected


def test_find_secrets_names_each_kind_once() -> None:
    code = 'A = "' + "gh" + "p_" + "a" * 36 + '"\nB = "' + "gh" + "p_" + "b" * 36 + '"\npassword = "x"\n'
    assert find_secrets(code) == ["github-token", "secret-literal"]


def test_a_second_cookie_header_on_the_same_line_is_redacted_too() -> None:
    line = "headers: Cookie: sessionid=abcdef123456; csrftoken=zzzz12345678 | Set-Cookie: session=qqqqWWWW1234eeee; Path=/"
    out = redact(line)
    assert "abcdef123456" not in out and "zzzz12345678" not in out and "qqqqWWWW1234eeee" not in out
    assert out.endswith("Set-Cookie: session=[REDACTED:cookie]; Path=/")
