"""Message masking: a log message with its variable parts masked (its template), so messages that differ only there group together.

`template` is the mask set of fingerprint versions 1-2 (still the template of traces, typed errors and
probes, and the title of an event grouped on its message); `template_v2` is grouping v2's (fingerprint
version 3's message events), which also strips the layout a text header leaves in front of the message.
Pure functions of the text, cached on it with its digits zeroed. Used by agent_cli.detect.fingerprint and
by Event.title, so it imports neither.
"""

from __future__ import annotations

import re

# Order matters: the most specific shapes are masked first.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b"), "<hex>"),
    (re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/]\d{1,2}[-/]\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b|"
                r"\b\d{1,2}[-/](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[-/]\d{2,4}\b"), "<date>"),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""), "<str>"),
    (re.compile(r"(?<![\w<])(?:/[\w.@%+-]+){2,}/?"), "<path>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:ms|s|m|h|kb|mb|gb|b)?\b", re.IGNORECASE), "<num>"),
    (re.compile(r"\b[\w-]*\d[\w-]*\b"), "<id>"),  # request ids such as abc123
)
_SPACES = re.compile(r"\s+")
# Every mask treats all digits alike, so messages that differ only in their
# digits share a template: cache on the message with its digits zeroed.
_DIGITS_TABLE = str.maketrans("123456789", "000000000")
_CACHE: dict[str, str] = {}
_CACHE_MAX = 4096


def template(message: str) -> str:
    """The message with its variable parts masked: `user 42 at 10.0.0.1` -> `user <num> at <ip>`."""
    key = message.split("\n", 1)[0][:500].translate(_DIGITS_TABLE)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    text = key
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    text = _SPACES.sub(" ", text).strip()
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = text
    return text



# Grouping v2 ------------------------------------------------------------------
# Layout a text header leaves at the front of a message: syslog's "Dec 10 06:55:46 host sshd[24200]: ", bracketed
# thread names of any length and nesting ("[QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774]") and the
# logger name after them ("o.a.z.s.NIOServerCnxn:", "- ").
_SYSLOG_HEAD = re.compile(
    r"^(?:<\d{1,3}>\d?\s*)?(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+"
    r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:\s+\d{4})?\s+(?:\S+\s+)?[\w./-]+(?:\[\d+\])?:\s+"
)
_LOGGER_AFTER = re.compile(r"^(?:[-:|]\s*)?(?:[A-Za-z_$][\w$]*(?:[.$][\w$]+)+(?:@\d+)?|[A-Z][\w$]+)(?::\s+|\s+-\s+)")
_SEPARATOR = re.compile(r"^[-:|>]+\s+")
# A level word past column 80: a long header the event parser left in the message. Cut when a time stands before it.
_LATE_LEVEL = re.compile(r"(?:^|[\s\[|])(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)(?:\]|:|\s)")
_HEADER_TIME = re.compile(r"\d{1,2}:\d{2}:\d{2}")

_V2_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>]+"), "<url>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    # A UUID, also with a suffix glued to it (`<uuid>_del`): the suffix stays.
    (re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9a-fA-F])"), "<uuid>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    # X-Forwarded-For and other lists of addresses: one mask, however many hops (one included).
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?:\s*,\s*(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?)+(?![\w.])"), "<ip>"),
    (re.compile(r"(?<![\w.])/?(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\w.])"), "<ip>"),
    (re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])"), "<ip>"),
    (re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/]\d{1,2}[-/]\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b|"
                r"\b\d{1,2}[-/](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[-/]\d{2,4}\b"), "<date>"),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""), "<str>"),
    # Paths with `//`, hex-looking or numeric segments, Windows drives; at least two segments (or a `//`).
    (re.compile(r"(?<![\w<>.])(?:[A-Za-z]:)?(?:(?:/{1,2}|\\)[\w.@%+=~,$#-]+){2,}[/\\]?|(?<![\w<>])//[\w.@%+=~,$#-]+/?"), "<path>"),
    # Host names: dotted names with a digit in them or a common suffix (java.lang.Error is no host).
    (re.compile(r"\b(?=[\w-]*\d)[a-zA-Z][\w-]*(?:\.[a-zA-Z0-9][\w-]*)+\.(?:[a-z]{2,12})\b|\b[a-zA-Z0-9][\w-]*(?:\.[\w-]+)*\."
                r"(?:com|net|org|io|local|internal|lan|corp|edu|gov|cloud|dev|svc|cluster|localdomain|amazonaws)\b"), "<host>"),
    (re.compile(r"\b(host(?:name)?|server|node|rhost)=(?!<)[^\s,;]+"), r"\1=<host>"),
    # Bare file names: `workers2.properties`, `app.log.1`.
    (re.compile(r"(?<![\w<>/.])[\w-]+(?:\.[\w-]+)*\.(?:log|txt|conf|cfg|ini|json|xml|ya?ml|toml|properties|py|pyc|java|class|jar|war|js|mjs|ts|go|rb|php|c|cc|cpp|h|so|dll|exe|sh|gz|bz2|zip|tar|tgz|tmp|dat|db|sqlite|csv|html?|css|png|jpe?g|gif|pdf|lock|pid|sock|bin|img|iso)(?:\.\d+)?\b"), "<file>"),
    # User names: `for user X`, `Invalid user X`, `user=X`, `user: X`.
    (re.compile(r"\b((?:[Ff]or|[Bb]y|[Ii]nvalid|[Uu]nknown|[Ii]llegal|of)\s+user)\s+(?!<)[^\s,;:'\"()]+"), r"\1 <user>"),
    (re.compile(r"\b((?:r|e|remote_|login_)?user(?:name|_name|_id|id|Id)?)(=|:\s?)(?!<)[^\s,;'\"()]+"), r"\1\2<user>"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?\b"), "<day>"),
    (re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\b(?=\s+<|\s+\d|\s*,\s*\d)"), "<month>"),
    # Versions: `1.2.3`, `v2.0`, `3.4.5-rc1`.
    (re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,}(?:[-+][\w.]+)?(?![\w.])|(?<![\w.])v\d+(?:\.\d+)+(?![\w.])"), "<version>"),
    # Numbers with a unit: `123 B`, `1.2 KB`, `4 MiB` are one size; `200 ms`, `3.5s` one duration.
    (re.compile(r"(?<![\w.<])[-+]?\d+(?:[.,]\d+)?\s?(?:[KMGTPE]i?B|[kKMGTPE]B?|B|bytes?|octets?)\b"), "<size>"),
    (re.compile(r"(?<![\w.<])[-+]?\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|msec|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)\b"), "<dur>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    # An id glued to a word (`blk_-123`, `blk_123`, `job-7`): the word stays, the number is masked alike.
    (re.compile(r"\b([A-Za-z][A-Za-z]*[_-])-?\d+\b"), r"\1<num>"),
    # Digits and hex alike: a token that is hex in one line and all digits in the next gets one mask.
    (re.compile(r"(?<![\w<.])[-+]?(?:\d+(?:\.\d+)?|[0-9a-fA-F]*\d[0-9a-fA-F]*)(?![\w.>]|\.\d)"), "<num>"),
    (re.compile(r"\b[\w-]*\d[\w-]*\b"), "<id>"),  # request ids such as abc123
)
_V2_CACHE: dict[str, str] = {}


def strip_header(text: str) -> str:
    """The message without the layout a header leaves in front of it (see above)."""
    m = _SYSLOG_HEAD.match(text)
    if m:
        text = text[m.end():]
    stripped = False
    if len(text) > 80 and _HEADER_TIME.search(text[:120]):
        late = _LATE_LEVEL.search(text, 60, 400)
        if late and _HEADER_TIME.search(text[:late.start()]):
            text, stripped = text[late.end():].lstrip(" ]:|-"), True
    while text.startswith("["):
        end = _bracket_end(text)
        if end is None:
            break
        text, stripped = text[end:].lstrip(), True
    if stripped:
        text = _SEPARATOR.sub("", text)
        m = _LOGGER_AFTER.match(text)
        if m and m.end() < len(text):
            text = text[m.end():]
    return text


def _bracket_end(text: str) -> int | None:
    """End of the balanced `[...]` group at the start of text, any length and nesting."""
    depth = 0
    for i, c in enumerate(text[:2000]):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def template_v2(message: str) -> str:
    """Grouping v2's masks: header layout stripped, then every class of variable the issue names masked."""
    # As for v1, no mask looks at a digit's value, only at where digits stand: cache on the digits zeroed.
    first = message.split("\n", 1)[0][:1000].translate(_DIGITS_TABLE)
    cached = _V2_CACHE.get(first)
    if cached is not None:
        return cached
    text = strip_header(first)[:500]
    for pattern, mask in _V2_MASKS:
        text = pattern.sub(mask, text)
    text = _SPACES.sub(" ", text).strip()
    if len(_V2_CACHE) >= _CACHE_MAX:
        _V2_CACHE.clear()
    _V2_CACHE[first] = text
    return text
