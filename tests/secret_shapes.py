"""Secret shapes for redaction tests: data only, no tests here.

`SHAPES`: (kind, a log line holding a secret, the secret). Lines come as plain text and as JSON log
lines (and JSON inside a JSON string) where that happens in real logs.
`CODE_SHAPES`: (kind, source code holding a secret, the secret), for code sent in fix prompts and
for the fix gate.

Contract, for any test that reuses these (e.g. asserting on the bytes a server received):
- every secret is at least 6 characters, unique across both lists, appears once in its own text,
  and is no part of the kind, the prose, or any other entry's text after redaction;
- secrets hold no characters that JSON encoding changes (no quotes, backslashes, control or
  non-ASCII characters), so a leaked one is found verbatim in an encoded request body.

All values are fake. They have the real shape (length, alphabet, prefix), are made deterministically
from a seed, and shapes that secret scanners match are assembled at import time, so this file holds no
literal that looks like a real credential.
"""

from __future__ import annotations

import base64
import hashlib
import string

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "-_"


def fake(seed: str, n: int, alphabet: str = _ALNUM) -> str:
    """`n` characters from `alphabet`, the same every run for the same `seed`."""
    out: list[str] = []
    counter = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return "".join(out[:n])


def _pw(seed: str) -> str:
    """A password-like fake: letters, digits and a little punctuation, 14 characters."""
    return "Fk" + fake(seed, 10) + "-" + fake(seed + "!", 2, string.digits)


# Prefixes that scanners know, split so that no literal here has the full shape.
GH = "gh" + "p_"
GH_PAT = "github" + "_pat_"
ANT = "sk-" + "ant-api03-"
OAI = "sk-" + "proj-"
AKIA = "AK" + "IA"
ASIA = "AS" + "IA"
XOXB = "xo" + "xb-"
XAPP = "xa" + "pp-"
STRIPE = "sk_" + "live_"
WHSEC = "wh" + "sec_"
AIZA = "AI" + "za"
SG = "S" + "G."
NPM = "np" + "m_"
GLPAT = "gl" + "pat-"
PYPI = "py" + "pi-AgEIcHlwaS5vcmc"
HF = "h" + "f_"
AGE = "AGE-" + "SECRET-KEY-1"
SLACK_HOOK = "https://hooks." + "slack.com/services/"
DISCORD_HOOK = "https://discord" + ".com/api/webhooks/"
DISCORDAPP_HOOK = "https://discord" + "app.com/api/webhooks/"
BEGIN = "-----BEGIN "
END = "-----END "


def _access_key(seed: str) -> str:
    return AKIA + "FAKE" + fake(seed, 12, _UPPER)


def _aws_secret(seed: str) -> str:
    return "Fake" + fake(seed, 36, _B64)


def _jwt(seed: str) -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(b'{"sub":"fake-user-' + seed.encode() + b'"}').decode().rstrip("=")
    return f"{head}.{body}.{fake(seed, 43, _URLSAFE)}"


def _basic(seed: str) -> str:
    return base64.b64encode(f"deploy:{_pw(seed)}".encode()).decode()


_RSA_LINE = "MIIEowIBAAKCAQEA" + fake("rsa-body", 48, _B64)
_PGP_LINE = "lQOYBF" + fake("pgp-body", 50, _B64)
_SSH_LINE = "b3BlbnNzaC1rZXktdjEAAAAA" + fake("ssh-body", 40, _B64)
_GCP_KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + fake("gcp-body", 40, _B64)

# (kind, text, secret)
SHAPES: list[tuple[str, str, str]] = []


def _add(kind: str, template: str, secret: str, into: list[tuple[str, str, str]] | None = None) -> None:
    (SHAPES if into is None else into).append((kind, template.replace("{s}", secret), secret))


# --- env-style names, as an env dump in a text log and as a JSON log ---------------------------
for name in ("DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "DJANGO_SECRET_KEY", "JWT_SECRET", "GITHUB_TOKEN",
             "STRIPE_SECRET_KEY", "SESSION_SECRET", "SENDGRID_API_KEY", "FIREBASE_PRIVATE_KEY", "PGPASSWORD"):
    _add("env-secret", f"2024-05-01T12:00:00Z WARN startup env: {name}={{s}} DB_HOST=db.internal", _pw("env-t-" + name))
    _add("env-secret", f'{{"level":"warning","msg":"startup env","env":{{"{name}":"{{s}}","DB_HOST":"db.internal"}}}}',
         _pw("env-j-" + name))
_add("env-secret", "+ export DJANGO_SECRET_KEY='{s}'", fake("django-export", 50, _ALNUM + "!@%^*(-_=+)"))
_add("env-secret", "SESSION_SECRET: {s}", _pw("session-yaml"))

# --- labelled passwords, tokens, keys in log text --------------------------------------------
_add("secret-value", "login failed password={s} for user 42", _pw("pw-text"))
_add("secret-value", '{"level":"error","msg":"db failed","password":"{s}"}', _pw("pw-json"))
_add("secret-value", "token: {s}", fake("token-colon", 24))
_add("secret-value", '{"level":"info","msg":"refresh ok","token":"{s}","user_id":42}', fake("token-json", 32))
_add("secret-value", '{"api_key": "{s}"}', "k-" + fake("apikey-json", 20))
_add("secret-value", "User(name=bob, password={s}, admin=false)", _pw("java-tostring"))
_add("secret-value", "config: {Password:{s} User:bob Host:db}", _pw("go-struct"))
_add("secret-value", "POST /login body: username=bob&password={s}&next=/", _pw("form-body"))
_add("secret-value", "params: {:password => \"{s}\", :user => \"bob\"}", _pw("ruby-hash"))
_add("secret-value", "request headers: {'X-Api-Key': '{s}', 'Accept': 'application/json'}", fake("x-api-key", 32, _HEX))
_add("secret-value", "X-Auth-Token: {s}", fake("x-auth-token", 40, _URLSAFE))
_add("secret-value", "exec: backup --password={s} --verbose", _pw("cli-flag"))
_add("secret-value", "<soap:Body><user>bob</user><password>{s}</password></soap:Body>", _pw("xml-soap"))
_add("secret-value", "spring.datasource.hikari.data-source-properties.password={s}", _pw("long-dotted-name"))
# JSON inside a JSON string (a logged request body), and after an escaped newline.
_add("secret-value", '{"level":"debug","msg":"request body={\\"user\\": \\"bob\\", \\"password\\": \\"{s}\\"}"}', _pw("json-escaped"))
_add("secret-value", '{"msg":"payload: {\\"api_key\\":\\"{s}\\"}"}', fake("json-escaped-key", 28))
_add("secret-value", '{"msg":"config loaded\\napi_key={s}\\nregion=eu"}', fake("after-escaped-newline", 26))

# --- Authorization headers ---------------------------------------------------------------
_add("basic-auth", "GET /admin HTTP/1.1 Authorization: Basic {s}", _basic("basic-text"))
_add("basic-auth", '{"level":"info","headers":{"authorization":"Basic {s}","accept":"*/*"}}', _basic("basic-json"))
_add("bearer-token", "Authorization: Bearer {s}", "abc." + fake("bearer-text", 30, _URLSAFE))
_add("bearer-token", '{"headers":{"Authorization":"Bearer {s}"}}', fake("bearer-json", 40, _URLSAFE) + "9")
_add("authorization", "Authorization: Token {s}", fake("drf-token", 40, _HEX))

# --- cookies and session ids -----------------------------------------------------------------
_add("cookie", "Cookie: sessionid={s}; csrftoken=" + fake("csrf-a", 32), fake("sessionid-a", 32))
_add("cookie", "Cookie: sessionid=" + fake("sessionid-b", 32) + "; csrftoken={s}", fake("csrf-b", 32))
_add("cookie", "Set-Cookie: session={s}; Path=/; HttpOnly; Secure; SameSite=Lax", fake("set-cookie", 40, _URLSAFE))
_add("cookie", '{"level":"info","response_headers":{"set-cookie":"session={s}; Path=/; Secure"}}', fake("set-cookie-json", 40))
_add("session-id", "Cookie: PHPSESSID={s}", fake("phpsessid-cookie", 26, string.ascii_lowercase + string.digits))
_add("session-id", "restored session PHPSESSID={s} for user 42", fake("phpsessid-text", 26, string.ascii_lowercase + string.digits))
_add("session-id", "Cookie: connect.sid=s%3A{s}.sig", fake("connect-sid", 32, _URLSAFE))
_add("session-id", "GET /cart;jsessionid={s} HTTP/1.1 200", fake("jsessionid-url", 32, _UPPER))
_add("session-id", "JSESSIONID={s} expired", fake("jsessionid-text", 32, _UPPER))

# --- AWS ----------------------------------------------------------------------------------
_add("aws-access-key", "id {s} here", _access_key("akia-alone"))
_add("aws-secret-key", "aws_secret_access_key = {s}", _aws_secret("aws-ini"))
_add("aws-secret-key", '{"Credentials":{"AccessKeyId":"' + ASIA + "FAKE" + fake("asia-id", 12, _UPPER) + '","SecretAccessKey":"{s}"}}',
     _aws_secret("aws-json"))
_add("aws-session-token", '{"Credentials":{"SessionToken":"{s}","Expiration":"2024-05-01T13:00:00Z"}}',
     "FwoGZXIvYXdzE" + fake("sts-json", 100, _B64))
_add("aws-session-token", "aws_session_token={s}", "IQoJb3JpZ2luX2Vj" + fake("sts-ini", 100, _B64))
_add("aws-secret-key", "credentials: " + _access_key("pair-id") + " {s}", _aws_secret("aws-pair"))
_add("aws-secret-key", "Access key ID,Secret access key\n" + _access_key("csv-id") + ",{s}", _aws_secret("aws-csv"))
_add("aws-presigned", "GET /bucket/o.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={s}&X-Amz-Date=20240501T000000Z",
     fake("amz-signature", 64, _HEX))
_add("aws-presigned", "GET /bucket/o.png?X-Amz-Credential={s}%2F20240501%2Fus-east-1%2Fs3%2Faws4_request", _access_key("amz-credential"))
_add("aws-presigned", "GET /bucket/o.png?X-Amz-Security-Token={s}&X-Amz-Expires=300", "IQoJb3JpZ2lu" + fake("amz-token", 60, _ALNUM))

# --- connection strings and URLs -------------------------------------------------------------
_add("url-password", "connect postgres://app:{s}@db.internal:5432/shop", _pw("pg-simple"))
_add("url-password", "db error on postgres://user:{s}@db.example:5432/x", "p@ss/" + fake("pg-slash-at", 10) + "@w0rd")
_add("url-password", "redis connection refused: redis://:{s}@cache.internal:6379/0", _pw("redis-empty-user"))
_add("url-password", '{"level":"error","msg":"cannot connect","dsn":"mysql://app:{s}@db.internal/shop"}', _pw("mysql-json"))
_add("azure-account-key", "DefaultEndpointsProtocol=https;AccountName=fakeacct;AccountKey={s};EndpointSuffix=core.windows.net",
     fake("azure-key", 86, _B64) + "==")
_add("azure-sas", "PUT https://fakeacct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2024-05-02&sig={s}",
     fake("sas-sig", 40, _ALNUM) + "%3D")
_add("curl-user", "+ curl -sS -u deploy:{s} https://ci.internal/api", _pw("curl-u"))
_add("curl-user", "+ curl --user admin:{s} https://ci.internal/api", _pw("curl-user"))
_add("mysql-password", "+ mysqldump -u root -p{s} shop > /backup/shop.sql", _pw("mysqldump-p"))
_add("query-param", "GET /login?user=bob&pass={s} HTTP/1.1 302", _pw("q-pass"))
_add("query-param", "GET /login?user=bob&password={s}&next=/ HTTP/1.1 302", _pw("q-password"))
_add("query-param", "GET /legacy?pwd={s} HTTP/1.1 200", _pw("q-pwd"))
_add("query-param", "GET /export?token={s} HTTP/1.1 200", fake("q-token", 32))
_add("query-param", "GET https://maps.example.invalid/geo?api_key={s}&q=berlin", fake("q-apikey", 32))
_add("query-param", '{"level":"info","msg":"GET /feed","url":"/feed?access_token={s}&page=2"}', fake("q-access-token", 32))

# --- vendor tokens with a fixed shape --------------------------------------------------------
_add("anthropic-key", "key {s} used", ANT + fake("anthropic", 40, _URLSAFE))
_add("anthropic-key", '{"level":"error","msg":"auth failed","key":"{s}"}', ANT + fake("anthropic-json", 40, _URLSAFE))
_add("openai-key", "OPENAI_KEY {s}", OAI + fake("openai", 40, _URLSAFE))
_add("github-token", "clone with {s}", GH + fake("ghp", 36))
_add("github-token", "push with " + "{s}", GH_PAT + fake("ghpat", 60, _ALNUM + "_"))
_add("gitlab-token", "PRIVATE-TOKEN header {s}", GLPAT + fake("glpat", 20, _URLSAFE))
_add("slack-token", "slack client {s}", XOXB + "1234567890-" + fake("xoxb", 24))
_add("slack-token", "socket mode {s}", XAPP + "1-A0FAKE-" + fake("xapp", 40))
_add("slack-webhook", "post to " + SLACK_HOOK + "TFAKE000/BFAKE000/{s}", fake("slack-hook", 24))
_add("discord-webhook", "alert sent to " + DISCORD_HOOK + "123456789012345678/{s}", fake("discord", 68, _URLSAFE))
_add("discord-webhook", '{"msg":"webhook failed","url":"' + DISCORDAPP_HOOK + '876543210987654321/{s}"}', fake("discordapp", 68, _URLSAFE))
_add("stripe-key", "stripe {s}", STRIPE + fake("stripe", 24))
_add("stripe-key", "webhook secret {s}", WHSEC + fake("whsec", 32))
_add("google-api-key", "maps request key={s}&q=x", AIZA + "Sy" + fake("aiza-text", 33, _URLSAFE))
_add("google-api-key", '{"msg":"geocode failed","client":{"key":"{s}"}}', AIZA + "Sy" + fake("aiza-json", 33, _URLSAFE))
_add("sendgrid-key", "mail send failed with {s}", SG + fake("sg-a", 22, _URLSAFE) + "." + fake("sg-b", 43, _URLSAFE))
_add("npm-token", "//registry.npmjs.org/:_authToken={s}", NPM + fake("npm", 36))
_add("npm-token", "publish using {s}", NPM + fake("npm-bare", 36))
_add("pypi-token", "twine upload with {s}", PYPI + fake("pypi", 70, _URLSAFE))
_add("huggingface-token", "hub login {s}", HF + fake("hf", 34))
_add("telegram-bot-token", "bot api https://api.telegram.org/bot{s}/sendMessage", "123456789:AA" + fake("telegram", 33, _URLSAFE))
_add("age-secret-key", "age identity {s}", AGE + fake("age", 58, _UPPER))
_add("jwt", "cookie {s}", _jwt("jwt-text"))
_add("jwt", '{"level":"debug","msg":"decoded","id_token":"{s}"}', _jwt("jwt-json"))

# --- key material --------------------------------------------------------------------------
_add("private-key", BEGIN + "RSA PRIVATE KEY-----\n{s}\n" + END + "RSA PRIVATE KEY-----", _RSA_LINE)
_add("private-key", BEGIN + "OPENSSH PRIVATE KEY-----\n{s}\n" + END + "OPENSSH PRIVATE KEY-----", _SSH_LINE)
_add("private-key", BEGIN + "PGP PRIVATE KEY BLOCK-----\n\n{s}\n=abcd\n" + END + "PGP PRIVATE KEY BLOCK-----", _PGP_LINE)
_add("gcp-service-account", '{"type": "service_account", "project_id": "fake-project", "private_key_id": "{s}", "client_email": "x"}',
     fake("gcp-key-id", 40, _HEX))
_add("gcp-service-account",
     '{"type": "service_account", "private_key": "' + BEGIN + "PRIVATE KEY-----\\n{s}\\n" + END + 'PRIVATE KEY-----\\n"}', _GCP_KEY_LINE)


# --- code: literals bound to secret-like names, and token shapes built by concatenation --------
CODE_SHAPES: list[tuple[str, str, str]] = []
for _kind, _template, _seed in (
    ("python-assign", 'SECRET_KEY = "{s}"', "code-secret-key"),
    ("python-annotated", "db_password: str = '{s}'", "code-annotated"),
    ("js-object", 'const config = { "apiKey": "{s}", region: "eu" };', "code-js-object"),
    ("js-const", 'const stripeSecret = "{s}";', "code-js-const"),
    ("python-kwarg", 'conn = psycopg.connect(host="db", password="{s}")', "code-kwarg"),
    ("python-kwarg", 'gh = Github(login_or_token="{s}")', "code-login-or-token"),
    ("auth-tuple", 'resp = requests.get(url, auth=("deploy", "{s}"))', "code-auth-tuple"),
    ("auth-tuple", 'resp = requests.get(url, auth=HTTPBasicAuth("deploy", "{s}"))', "code-httpbasicauth"),
    ("python-subscript", 'os.environ["DB_PASSWORD"] = "{s}"', "code-environ-set"),
    ("python-dict", "headers = {'api_key': '{s}'}", "code-dict"),
    ("go-short-var", 'apiKey := "{s}"', "code-go"),
    ("php-var", "$password = '{s}';", "code-php-var"),
    ("php-array", "'password' => '{s}',", "code-php-array"),
    ("rust-const", 'const API_KEY: &str = "{s}";', "code-rust"),
    ("java-field", 'private static final String DB_PASSWORD = "{s}";', "code-java"),
    ("kotlin-val", 'val authToken: String = "{s}"', "code-kotlin"),
    ("ts-field", 'private readonly apiKey?: string = "{s}";', "code-ts"),
    ("yaml-quoted", 'password: "{s}"', "code-yaml"),
):
    _add(_kind, _template, _pw(_seed), CODE_SHAPES)
_add("concatenated-token", 'x = "' + GH + '" + "{s}"', fake("concat-ghp", 36), CODE_SHAPES)
_add("concatenated-token", "KEY = ('" + ANT + "'\n       '{s}')", fake("concat-ant", 40, _URLSAFE), CODE_SHAPES)
_add("concatenated-token", 'key_id = "' + AKIA + '" + "{s}"', "FAKE" + fake("concat-akia", 12, _UPPER), CODE_SHAPES)
_add("concatenated-token", "const t = '" + XOXB + "' + '{s}';", "1234567890-" + fake("concat-xoxb", 24), CODE_SHAPES)
