"""Secret redaction: applied to anything that leaves the machine (LLM prompts, webhooks).

Each rule names its kind, so a redacted prompt still tells the model what stood
there, and labelled values keep their label: `DB_PASSWORD=[REDACTED:secret]`,
`Authorization: Basic [REDACTED:basic-auth]`, `[REDACTED:aws-access-key]`.

`find_secrets` reuses the same rules for the fix gate, but reads its input as
code: a name bound to an expression (`token = request.headers["X"]`) is not a
secret there, a name bound to a string literal is, and so is a known token
shape built by concatenating literals (`"ghp_" + "..."`).

Every pattern is linear on any input: quantifiers are bounded or possessive,
and none nests an unbounded quantifier inside another (redact() runs over
megabytes of logs from cron).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

# ---------------------------------------------------------------------------
# Names: which labels hold secrets.

# A name part that holds a secret when it is, or ends with, one of these ("dbpassword", "csrftoken", "PHPSESSID").
_SECRET_SUFFIXES = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "credential", "credentials",
    "sessid", "sessionid", "apikey", "accesskey", "secretkey", "privatekey", "accountkey", "authkey",
    "masterkey", "signingkey", "encryptionkey",
)
# ... or is exactly one of these.
_SECRET_EXACT = frozenset({"pass", "pw", "passcode", "secrets", "creds", "sig", "signature", "sid"})
# "key" holds a secret after one of these ("api_key", "AccountKey", "private_key_id", "sessionKey").
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "account", "master", "encryption", "signing", "sign", "auth",
    "app", "client", "shared", "storage", "subscription", "license", "licence", "webhook", "hmac",
    "crypt", "cipher", "session", "consumer", "service", "admin", "root", "deploy", "ssh", "gpg", "pgp",
    "rsa", "aes", "jwt", "cookie", "csrf", "sas",
})
# A last part that makes the value something *about* the secret, not the secret.
_NOT_SECRET_LAST = frozenset({
    "name", "names", "type", "types", "kind", "length", "len", "count", "counts", "limit", "limits", "size",
    "min", "max", "url", "uri", "urls", "endpoint", "path", "paths", "file", "filename", "dir", "header",
    "headers", "field", "fields", "param", "params", "prefix", "suffix", "format", "enabled", "disabled",
    "required", "expiry", "expires", "expiration", "exp", "ttl", "timeout", "age", "reset", "policy",
    "hint", "version", "rotation", "provider", "source", "env", "var", "vars", "label", "mode",
    "algorithm", "alg", "location", "ref", "arn", "strength", "regex", "pattern", "error", "errors",
    "present", "missing", "valid", "invalid", "status", "method", "scheme", "scope", "scopes",
    "audience", "issuer", "usage", "used", "attempts", "retries", "manager", "store", "backend",
    "prompt", "placeholder", "message", "msg", "text", "title", "help", "description", "desc",
    "question", "template", "input", "widget", "class", "style", "changed", "updated", "created", "at", "in",
})
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})  # the shell's working directory, in env dumps
_PUBLIC_PARTS = frozenset({"public", "publishable"})
_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def _parts(name: str) -> list[str]:
    name = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name))
    return [p for p in _NON_ALNUM.split(name.lower()) if p]


@lru_cache(maxsize=4096)
def _is_secret_name(name: str, broad: bool = False) -> bool:
    """Does `name` label a secret? `broad` (env-style files) also takes any qualified *_KEY, *AUTH*, *PASS."""
    name = name.strip("-_.")
    if name in _NOT_SECRET_NAMES:
        return False
    parts = _parts(name)
    if not parts or parts[-1] in _NOT_SECRET_LAST:
        return False
    for i, part in enumerate(parts):
        if part in _SECRET_EXACT or part.endswith(_SECRET_SUFFIXES):
            return True
        if part in ("key", "keys") and i > 0 and parts[i - 1] in _KEY_QUALIFIERS:
            return True
    if broad and not _PUBLIC_PARTS.intersection(parts):
        for part in parts:
            if part in ("key", "keys") and len(parts) > 1:
                return True
            if len(part) > 3 and part.endswith("key") and part not in ("monkey", "hotkey", "turkey"):
                return True
            if part in ("auth", "authorization", "authtoken") or (part.endswith("pass") and part not in ("bypass", "compass")):
                return True
    return False


# ---------------------------------------------------------------------------
# Values: which ones are not secrets at all.

# Never secrets, even in a log: empty, masks, nulls, closed templates, already redacted. Kept short on
# purpose: in text, redacting a non-secret costs little, keeping a secret costs a leak.
_TRIVIAL = re.compile(
    r"""\s*|\*+|\$\{[^{}]{1,200}\}|\$\{\{[^{}]{1,200}\}\}|\{\{?[^{}]{1,200}\}\}?|%\(?\w{0,40}\)?[sdr]"""
    r"""|none|null|nil|undefined|true|false|\[REDACTED.*""",
    re.IGNORECASE | re.DOTALL,
)
# In code and config, also stand-ins written on purpose: $VAR, ${VAR, $(cmd), <token>, !vault, xxx,
# your-api-key-here, changeme, ..., and prose ("This field is required.").
_PLACEHOLDER = re.compile(
    r"""\$|\$[{(].*|\$[A-Za-z_]\w*|\$\d|\{.*|<[^<>]{1,200}>|!(?:vault|secret|env|ref|sub|getatt|importvalue|include)\b.*"""
    r"""|x{3,}|(?:your|my)[-_ ].*|.*(?:change[-_ ]?me|replace[-_ ]?me|placeholder|redacted|fixme|todo).*"""
    r"""|.*\.\.\.|\u2026|.*\s.*[.:?!]""",
    re.IGNORECASE | re.DOTALL,
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,}")
_TYPE_WORDS = frozenset({
    "str", "bytes", "int", "bool", "string", "String", "Optional", "Union", "Any", "any", "SecretStr",
    "SecretBytes", "object", "Object", "list", "List", "dict", "Dict", "Literal", "Annotated", "Final",
    "ClassVar", "char", "number", "Text",
})
_CODE_ROOTS = frozenset({
    "self", "cls", "this", "os", "settings", "config", "conf", "cfg", "request", "req", "env", "process",
    "ctx", "context", "args", "kwargs", "options", "opts", "params", "app", "current_app", "data", "form",
    "body", "payload", "user", "session", "secrets", "vault", "environ", "props", "state",
})
_IDENT = re.compile(r"[A-Za-z_]\w{0,100}(?:\.[A-Za-z_]\w{0,100}){0,10}")


def _is_trivial(value: str) -> bool:
    return "[REDACTED" in value or _TRIVIAL.fullmatch(value) is not None


def _is_placeholder(value: str) -> bool:
    """Stricter, for code and config: a value written as a stand-in, not a secret."""
    if _is_trivial(value) or _PLACEHOLDER.fullmatch(value):
        return True
    return _ENV_NAME.fullmatch(value) is not None and _is_secret_name(value)


def _norm(s: str) -> str:
    return "".join(_parts(s))


def _looks_like_code(text: str, end: int, value: str, name: str) -> bool:
    """An unquoted value that is an expression (`request.headers[...]`, `get_secret()`, `str`), not a secret."""
    if value in _TYPE_WORDS or _norm(value) == _norm(name):
        return True
    if not _IDENT.fullmatch(value):
        return False
    if ("_" in value or value.isupper()) and _is_secret_name(value):
        return True  # a reference to another secret: `"ANTHROPIC_API_KEY": API_KEY`, `password=db_password`
    nxt = text[end:end + 2]
    if nxt[:1] in ("(", "[") and (
        "." in value or "_" in value or value.isalpha() or nxt in ("()", "('", '("', "['", '["', "[]")
    ):
        return True  # a call or subscript: `get_secret()`, `sorted(...)`, `request.headers["X"]`
    return "." in value and value.split(".", 1)[0] in _CODE_ROOTS


# ---------------------------------------------------------------------------
# Rules.

Fn = Callable[[re.Match[str], bool], "str | None"]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    repl: str | Fn  # a template, or fn(match, code) -> replacement, None when the match holds no secret
    in_code: bool = True  # a finding for find_secrets too (False: too eager for code)

    def sub(self, text: str) -> str:
        if isinstance(self.repl, str):
            return self.pattern.sub(self.repl, text)
        fn = self.repl
        return self.pattern.sub(lambda m: fn(m, False) or m[0], text)

    def found_in(self, code: str) -> bool:
        if isinstance(self.repl, str):
            return self.pattern.search(code) is not None
        return any(self.repl(m, True) is not None for m in self.pattern.finditer(code))


# Fixed token shapes, unlabelled: found anywhere, in text and in code. First match wins at a position,
# so anthropic's `sk-ant-` comes before openai's `sk-`. All in one alternation: one pass, not fifteen.
_TOKEN_SHAPES: tuple[tuple[str, str], ...] = (
    ("anthropic-key", r"sk-ant-[A-Za-z0-9_-]{16,}"),
    ("openai-key", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("aws-access-key", r"(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("github-token", r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    ("gitlab-token", r"glpat-[A-Za-z0-9_-]{20,}"),
    ("slack-token", r"(?:xox[abposre]-|xapp-)[A-Za-z0-9-]{10,}"),
    ("stripe-key", r"(?:(?:sk|rk|pk)_(?:live|test)_|whsec_)[A-Za-z0-9]{16,}\b"),
    ("google-api-key", r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    ("sendgrid-key", r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
    ("npm-token", r"npm_[A-Za-z0-9]{36}\b"),
    ("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,}"),
    ("huggingface-token", r"hf_[A-Za-z0-9]{34,}\b"),
    ("telegram-bot-token", r"\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])"),
    ("age-secret-key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}\b"),
    ("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    # The discord-webhook rule (which keeps the id) runs first; this catches one built by concatenation.
    ("discord-webhook", r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/[A-Za-z0-9_-]{20,120}"),
)
_TOKEN_KIND = {f"t{i}": kind for i, (kind, _) in enumerate(_TOKEN_SHAPES)}
# At a word start (or after `bot`, for Telegram's `/bot<token>/`); each branch then starts with a literal,
# which the regex engine rejects in one step: keep it so, this runs over every byte sent.
_TOKEN_RE = re.compile(
    r"(?=[sAgxrpwSnhe0-9])(?:\b|(?<=bot)(?=\d))(?:"
    + "|".join(f"(?P<t{i}>{regex})" for i, (_, regex) in enumerate(_TOKEN_SHAPES))
    + ")"
)


def _token_kind(m: re.Match[str]) -> str:
    return _TOKEN_KIND[m.lastgroup or ""]


def _token_sub(m: re.Match[str], code: bool) -> str | None:
    return f"[REDACTED:{_token_kind(m)}]"


# A cheap pre-check before running _TOKEN_RE over a joined concatenation.
_TOKEN_HINT = re.compile(
    r"hooks\.|discord|sk-|gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|xox|xapp-|_live_|_test_|whsec_|AIza|SG\.|npm_|pypi-|hf_|:AA|AGE-|eyJ"
)
# A literal that is exactly a token's prefix, concatenated with more: `'sk-ant-' + 'xyz'`.
_TOKEN_PREFIX = re.compile(
    r"(?:gh[pousr]_|github_pat_|glpat-|sk-ant-(?:api\d\d-|admin\d\d-)?|sk-proj-|sk-svcacct-|AKIA|ASIA"
    r"|xox[abposre]-|xapp-|[sr]k_live_|whsec_|AIza|SG\.|npm_|pypi-|hf_|AGE-SECRET-KEY-)"
)
_PREFIX_KIND = (
    ("gh", "github-token"), ("gl", "gitlab-token"), ("sk-ant", "anthropic-key"), ("sk-", "openai-key"),
    ("AKIA", "aws-access-key"), ("ASIA", "aws-access-key"), ("xox", "slack-token"), ("xapp", "slack-token"),
    ("sk_", "stripe-key"), ("rk_", "stripe-key"), ("whsec", "stripe-key"), ("AIza", "google-api-key"),
    ("SG.", "sendgrid-key"), ("npm_", "npm-token"), ("pypi", "pypi-token"), ("hf_", "huggingface-token"),
    ("AGE", "age-secret-key"),
)


def _private_key() -> _Rule:
    label = r"[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?"
    return _Rule("private-key", re.compile(rf"-----BEGIN {label}-----[\s\S]*?(?:-----END {label}-----|\Z)"), "[REDACTED:private-key]")


# --- string literals and their concatenation ------------------------------------------------

_STR = r"""[rRbBuUfF]{0,2}(?:"(?:[^"\\\n]|\\.){0,4096}+"|'(?:[^'\\\n]|\\.){0,4096}+')"""
_CHAIN = re.compile(r"""(?=[rRbBuUfF"'])(?<![\w"'\\])""" + _STR + r"(?:(?:\s*+\+\s*+|\s++)" + _STR + r"){1,64}")
_STR_ONE = re.compile(r"""[rRbBuUfF]{0,2}(?:"((?:[^"\\\n]|\\.)*+)"|'((?:[^'\\\n]|\\.)*+)')""")


def _chain_kind(chain: str) -> str | None:
    """The token kind that concatenating these literals spells, if any."""
    parts = [m[1] if m[1] is not None else m[2] for m in _STR_ONE.finditer(chain)]
    for i, part in enumerate(parts[:-1]):
        if _TOKEN_PREFIX.fullmatch(part) and parts[i + 1] and not _is_trivial(parts[i + 1]):
            return next(kind for start, kind in _PREFIX_KIND if part.startswith(start))
    joined = "".join(parts)
    if not _TOKEN_HINT.search(joined):
        return None
    for m in _TOKEN_RE.finditer(joined):
        if not any(_offset(parts, i) <= m.start() and m.end() <= _offset(parts, i + 1) for i in range(len(parts))):
            return _token_kind(m)  # the match spans a join: no single literal holds it
    return None


def _offset(parts: list[str], i: int) -> int:
    return sum(len(p) for p in parts[:i])


def _chain(m: re.Match[str], code: bool) -> str | None:
    kind = _chain_kind(m[0])
    if kind is None:
        return None
    lead = _STR_ONE.match(m[0])
    assert lead is not None
    quote = '"' if lead[1] is not None else "'"
    return f"{quote}[REDACTED:{kind}]{quote}"


# --- labelled or structured secrets ------------------------------------------------------

# After a label: its closing quote (maybe JSON-escaped), `]` of a subscript, then a separator.
_Q = r"""(?:\\{0,3}["'])?"""


def _password(m: re.Match[str], code: bool) -> str | None:
    """`pre` + the password in `val`: URL userinfo, `mysql -pX`, `auth=("user", "X")`."""
    value = m["val"]
    if _is_trivial(value) or (code and _is_placeholder(value)):
        return None
    return m["pre"] + "[REDACTED:password]"


def _aws_pair(m: re.Match[str], code: bool) -> str | None:
    return f"[REDACTED:aws-access-key]{m['sep']}[REDACTED:aws-secret-key]"


_CREDENTIAL_ISH = re.compile(r"[0-9+/=._~-]|^.{16}")


def _authorization(m: re.Match[str], code: bool) -> str | None:
    scheme, value = m["scheme"] or "", m["val"]
    if _is_trivial(value) or (code and _is_placeholder(value)):
        return None
    if not scheme and (_looks_like_code(m.string, m.end(), value, "authorization") or not _CREDENTIAL_ISH.search(value)):
        return None  # `authorization: failed`, `authorization = request.headers.get(...)`
    kind = {"basic": "basic-auth", "bearer": "bearer-token"}.get(scheme.strip().lower(), "authorization")
    return f"{m['pre']}{scheme}[REDACTED:{kind}]"


_COOKIE_HEADER = re.compile(
    r"""(?P<pre>(?=[sc])(?<![\w-])(?:set-)?cookies?""" + _Q + r"""[ \t]*[:=][ \t]*""" + _Q + r""")(?P<val>[^\r\n"'\\]{1,4096})""",
    re.IGNORECASE,
)
_COOKIE_PAIR = re.compile(r"""[ \t]*+(?P<name>[^\s;=,"'\\()\[\]{}]{1,256}+)(?:=(?P<val>[^\s;"'\\()\[\]{}]{0,4096}+))?""")
_COOKIE_ATTRS = frozenset({
    "path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority", "partitioned", "version", "comment",
})


def _cookie(m: re.Match[str], code: bool) -> str | None:
    """Every cookie's value in a Cookie/Set-Cookie header; names and Set-Cookie attributes stay."""
    text, pos, out, changed = m["val"], 0, [], False
    while (pair := _COOKIE_PAIR.match(text, pos)) is not None:
        name, value = pair["name"], pair["val"]
        start = pair.start("name")
        if value is None:
            if pos == 0 and not _is_trivial(name) and not _looks_like_code(m.string, m.start("val") + pair.end(), name, "cookie"):
                out.append(text[pos:start] + "[REDACTED:cookie]")  # a bare value: `cookie: abc123`
                changed = True
            else:
                out.append(pair[0])
        elif value and name.lower() not in _COOKIE_ATTRS and not _is_trivial(value):
            out.append(f"{text[pos:start]}{name}=[REDACTED:cookie]")
            changed = True
        else:
            out.append(pair[0])
        pos = pair.end()
        if not text.startswith(";", pos):
            break
        out.append(";")
        pos += 1
    rest = text[pos:]
    # The header regex runs to the end of the line; a second header on it (`... | Set-Cookie: x=1`) is redacted too.
    rest_redacted = _COOKIE_HEADER.sub(lambda again: _cookie(again, code) or again[0], rest)
    if rest_redacted != rest:
        changed = True
    return m["pre"] + "".join(out) + rest_redacted if changed else None


def _curl_user(m: re.Match[str], code: bool) -> str | None:
    user, value = m["user"], m["val"]
    if (user.isdigit() and value.isdigit()) or _is_trivial(value) or (code and _is_placeholder(value)):
        return None  # `docker run -u 1000:1000`
    return m["pre"] + "[REDACTED:password]"


def _xml(m: re.Match[str], code: bool) -> str | None:
    tag, value = m["tag"], m["val"]
    if not _is_secret_name(tag.rsplit(":", 1)[-1]) or _is_trivial(value.strip()) or (code and _is_placeholder(value.strip())):
        return None
    return f"<{tag}>[REDACTED:secret]</{tag}>"


_RULES: tuple[_Rule, ...] = (
    _private_key(),
    _Rule("concatenated-token", _CHAIN, _chain),
    _Rule(
        "url-password",
        re.compile(
            r"""\b(?P<pre>[a-z][a-z0-9+.-]{0,20}://[^\s:/@"'<>]{0,256}:)(?!\d{1,5}(?:[/?#\s"'<>\\]|$))"""
            r"""(?P<val>[^\s"'<>]{1,512})(?=@[\w\[])""",
            re.IGNORECASE,
        ),
        _password,
    ),
    _Rule(
        "discord-webhook",
        re.compile(r"(https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/)[A-Za-z0-9_-]{20,120}"),
        r"\1[REDACTED:discord-webhook]",
    ),
    # An access key id with its secret right after it (credentials CSV, `aws configure` echo, a pasted pair).
    _Rule(
        "aws-secret-key",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?P<sep>[^A-Za-z0-9/+=\n]{1,10})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        _aws_pair,
    ),
    _Rule("token", _TOKEN_RE, _token_sub),
    _Rule(
        "aws-secret-key",
        re.compile(r"(?i)(?=a)(aws_?secret_?(?:access_?)?key" + _Q + r"\s*[=:]\s*" + _Q + r")[A-Za-z0-9/+=]{40}"),
        r"\1[REDACTED:aws-secret-key]",
    ),
    _Rule(
        "authorization",
        re.compile(
            r"(?P<pre>(?=[pa])(?<![\w-])(?:proxy-)?authorization" + _Q + r"\]?[ \t]*[:=][ \t]*(?:[rbfu]{0,2}\\{0,3}[\"'])?)"
            r"(?>(?P<scheme>(?:basic|bearer|token|digest|negotiate|ntlm|api-?key|sso-key|hmac[\w-]{0,24}|aws4-hmac-sha256"
            r"|jwt|key|dpop|mac|hawk|sharedkey|splunk|otp)[ \t]+)?)(?P<val>[^\s\"'\\,;()\[\]{}<>]{1,4096})",
            re.IGNORECASE,
        ),
        _authorization,
    ),
    # Needs a digit or punctuation within 20 letters, or 20 letters: "Bearer authentication failed" stays.
    _Rule(
        "bearer-token",
        re.compile(r"(?i)(?=b)\b(bearer[ \t]+)(?=[a-z]{0,19}[0-9._~+/=-]|[a-z]{20})[A-Za-z0-9._~+/=-]{8,}"),
        r"\1[REDACTED:bearer-token]",
        in_code=False,
    ),
    _Rule("cookie", _COOKIE_HEADER, _cookie, in_code=False),
    _Rule(
        "curl-user",
        re.compile(r"""(?P<pre>(?=-)(?<![\w-])(?:-u|--user)(?:[ \t]+|=)["']?(?P<user>[^\s:"']{1,256}):)(?P<val>[^\s"']{1,256})"""),
        _curl_user,
    ),
    _Rule(
        "mysql-password",
        re.compile(
            r"""(?P<pre>(?=m)\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n]{0,160}?[ \t]-p["']?)"""
            r"""(?P<val>[^\s"']{1,256})"""
        ),
        _password,
    ),
    _Rule(
        "auth-tuple",
        re.compile(
            r"""(?P<pre>(?=[a-z_])(?<!\w)(?:\w{0,40}?auth[ \t]*=[ \t]*|http(?:basic|digest|proxy)auth|(?:basic|digest)auth)"""
            r"""[ \t]*\([ \t]*[rbu]?(?P<q1>["'])[^"'\\\n]{0,256}(?P=q1)[ \t]*,[ \t]*[rbu]?["'])(?P<val>[^"'\\\n]{1,512})""",
            re.IGNORECASE,
        ),
        _password,
    ),
    _Rule("xml-secret", re.compile(r"<(?P<tag>[A-Za-z_][\w.:-]{0,60})>(?P<val>[^<\n]{1,512})</(?P=tag)>"), _xml),
)

# `NAME<sep>value` for any secret-like NAME: env lines, query params, JSON (also JSON inside a JSON string),
# YAML, headers, kwargs, dicts, assignments (also `name: type = "literal"`). The name must contain a hint
# word; _is_secret_name decides. Values: a quoted literal (to its quote), or a run of value characters.
_KV = re.compile(
    r"(?P<pre>(?=[\w.-])(?:(?<![\w.\\-])|(?<=\\[ntr]))"
    r"(?P<name>[\w.-]{0,200}?(?=[pstkca])(?:p(?:ass|wd?)|s(?:ecret|i[gd]|ess)|token|key|cred|auth)[\w.-]{0,60}+)"
    + _Q + r"\]?\??[ \t]*"
    r"(?::[ \t]*[A-Za-z_&][\w.\[\]|&*, ]{0,60}?[ \t]*=(?=[ \t]*[rbfu]{0,2}\\{0,3}[\"'])|:=|=>|[:=](?![=:]))[ \t]*)"
    r"(?:(?P<sp>[rbfu]{0,2})(?:(?P<eq>\\{1,3}\")(?P<ev>(?:[^\"\\\r\n]|\\(?!\\{0,2}\"))*+)"
    r"|(?P<dq>\")(?P<dv>(?:[^\"\\\r\n]|\\.)*+)"
    r"|(?P<sq>')(?P<sv>(?:[^'\\\r\n]|\\.)*+))"
    r"|(?P<uv>(?!\{)(?:[^\s\"'\\&,;()}\[\]<>|`]|\\(?!\\{0,2}[\"']))++))",
    re.IGNORECASE,
)


def _kv(m: re.Match[str], *, code: bool = False, env: bool = False) -> str | None:
    name = m["name"]
    if not _is_secret_name(name, env):
        return None
    if m["uv"] is not None:
        value, opener = m["uv"], ""
        if code and not env:
            return None  # in code, an unquoted value is an expression
        if _is_trivial(value) or _looks_like_code(m.string, m.end(), value, name):
            return None
    else:
        opener = m["sp"] + (m["eq"] or m["dq"] or m["sq"])
        value = m["ev"] if m["eq"] is not None else m["dv"] if m["dq"] is not None else m["sv"]
        if _is_trivial(value):
            return None
        if code and "f" in m["sp"].lower() and "{" in value:
            return None  # an f-string: built from expressions
    if code and _is_placeholder(value):
        return None
    return m["pre"] + opener + "[REDACTED:secret]"


_EMAIL = re.compile(r"(?=[A-Za-z0-9._%+-])(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*\.[A-Za-z]{2,}\b")


def redact(text: str, *, emails: bool = True) -> str:
    """`text` with every known kind of secret (and, by default, email addresses) replaced."""
    for rule in _RULES:
        text = rule.sub(text)
    text = _KV.sub(lambda m: _kv(m) or m[0], text)
    if emails:
        text = _EMAIL.sub("[REDACTED:email]", text)
    return text


_ENV_SUFFIXES = (".env", ".ini", ".cfg", ".conf", ".properties", ".yml", ".yaml", ".sh", ".bash", ".zsh", ".dockerfile", ".service")
_ENV_NAMES = frozenset({".npmrc", ".pypirc", "credentials", ".git-credentials"})


def is_env_style(path: str) -> bool:
    """Config-like files where `NAME=value` / `NAME: value` binds a literal even without quotes."""
    base = PurePosixPath(path.replace("\\", "/")).name.lower()
    return (
        base.startswith(".env")
        or base.endswith(_ENV_SUFFIXES)
        or base in _ENV_NAMES
        or base.startswith(("dockerfile", "containerfile", "docker-compose", "compose."))
    )


def find_secrets(code: str, *, path: str | None = None) -> list[str]:
    """Kinds of secret present in source `code` (emails excluded): used to refuse a fix that adds one.

    `path` (the file the code goes to) turns on the env-file rule: in `.env`, `*.ini`, `*.properties`,
    `*.yml`, `docker-compose*`, shell scripts ... an unquoted `DB_PASSWORD=hunter2` is a secret too.
    """
    env = path is not None and is_env_style(path)
    kinds: list[str] = []
    for rule in _RULES:
        if rule.pattern is _CHAIN:
            kinds.extend(k for m in _CHAIN.finditer(code) if (k := _chain_kind(m[0])))
        elif rule.pattern is _TOKEN_RE:
            kinds.extend(_token_kind(m) for m in _TOKEN_RE.finditer(code))
        elif rule.in_code and rule.found_in(code):
            kinds.append(rule.kind)
    for m in _KV.finditer(code):
        if _kv(m, code=True, env=env) is not None:
            kinds.append("env-secret" if m["uv"] is not None else "secret-literal")
    return list(dict.fromkeys(kinds))
