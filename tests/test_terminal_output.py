"""Log text never drives the terminal: escape sequences and controls are removed or shown, on both output paths."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from agent_cli.cli._render import Output, sanitize
from tests.conftest import Project

OSC_TITLE = "\x1b]0;pwned\x07"
OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
HOSTILE = (
    f"[bold]markup[/bold] :warning: \x1b[31mboom\x1b[0m {OSC_TITLE} {OSC8_LINK} over\rwritten back\x08\x08 bell\x07 "
    "c1\x9b2J vt\x0b del\x7f reset\x1bc bidi \u202eevil\u202c \u2066isolate\u2069 lrm\u200e"
)
LOG_LINE = f"2026-11-21 10:00:01,000 ERROR app: {HOSTILE}\n"
# Nothing from this set may reach a terminal: ESC, BEL, CR, BS, VT, FF, DEL, every C1, bidi and zero-width controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def forbidden(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in FORBIDDEN.finditer(text)})


@pytest.fixture
def hostile_issue(project: Project) -> int:
    (project.root / "logs").mkdir()
    (project.root / "logs" / "app.log").write_text(LOG_LINE)
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')
    scan = project.cli("scan")
    assert scan.exit_code == 0, scan.stderr
    assert forbidden(scan.stdout) == [] and "pwned" not in scan.stdout
    (issue,) = project.cli("--json", "issues").json()["issues"]
    return issue["id"]


def test_issues_and_show_print_no_control_characters_from_the_log(project: Project, hostile_issue: int) -> None:
    listing = project.cli("issues")
    assert listing.exit_code == 0, listing.stderr
    assert forbidden(listing.stdout) == [] and "pwned" not in listing.stdout and "evil.example" not in listing.stdout
    # The title is the message's template (v2 strips a leading bracketed group as a thread name), and its markup stays text.
    assert "markup[/bold]" in listing.stdout

    shown = project.cli("--verbose", "show", str(hostile_issue))  # whole raw lines (without -v they are cut to 160)
    assert shown.exit_code == 0, shown.stderr
    assert forbidden(shown.stdout) == [], shown.stdout
    assert forbidden(shown.stderr) == []
    for gone in ("pwned", "]0;", "]8;;", "evil.example"):
        assert gone not in shown.stdout
    # What was there is still visible, as text: the link's label, the escaped controls, the literal markup.
    raw_line = next(line for line in shown.stdout.splitlines() if line.startswith("2026-11-21 10:00:01,000 ERROR"))
    assert raw_line == (
        "2026-11-21 10:00:01,000 ERROR app: [bold]markup[/bold] :warning: boom  click here over\\rwritten back\\x08\\x08 bell\\x07 "
        "c1 vt\\x0b del\\x7f reset bidi \\u202eevil\\u202c \\u2066isolate\\u2069 lrm\\u200e"
    )


def test_json_output_keeps_the_raw_text_escaped_by_json(project: Project, hostile_issue: int) -> None:
    shown = project.cli("--json", "show", str(hostile_issue))
    assert forbidden(shown.stdout) == []  # json.dumps escapes every control character
    assert json.loads(shown.stdout)["events"][0]["raw"] == LOG_LINE.rstrip("\n")


def test_status_shows_a_pause_reason_without_its_escapes(project: Project) -> None:
    assert project.cli("pause", "--reason", f"maintenance {OSC_TITLE}\r\x1b[2K").exit_code == 0
    status = project.cli("status")
    assert status.exit_code == 0, status.stderr
    assert forbidden(status.stdout) == [] and "pwned" not in status.stdout and "maintenance" in status.stdout


@pytest.mark.parametrize(("text", "expected"), [
    ("plain text", "plain text"),
    ("", ""),
    ("\x1b[31mred\x1b[0m", "red"),  # CSI (SGR colour)
    ("a\x1b[2J\x1b[Hb", "ab"),  # CSI erase screen, cursor home
    ("\x1b[38;5;196mx", "x"),
    ("\x1b]0;pwned\x07title", "title"),  # OSC window title, BEL-terminated
    ("\x1b]2;pwned\x1b\\title", "title"),  # ... ST-terminated
    ("\x1b]8;;https://evil.example/\x1b\\label\x1b]8;;\x1b\\", "label"),  # OSC 8 hyperlink
    ("\x1b]52;c;cGF5bG9hZA==\x07", ""),  # OSC 52 clipboard write
    ("\x1bP+q544e\x1b\\", ""),  # DCS
    ("\x1b_apc\x1b\\", ""),  # APC
    ("\x1bc", ""),  # RIS: full terminal reset
    ("\x1b(0", ""),  # charset switch
    ("\x9b31mx\x9d0;t\x9c", "x"),  # 8-bit CSI and OSC
    ("\x1b]0;unterminated", "0;unterminated"),  # no terminator: the ESC goes, the rest is inert text
    ("\x1b\x1b[0m[31m", "\\x1b[31m"),  # removing one sequence cannot assemble another
    ("a\rb", "a\\rb"),
    ("a\x08b", "a\\x08b"),
    ("bell\x07", "bell\\x07"),
    ("nul\x00", "nul\\x00"),
    ("del\x7f", "del\\x7f"),
    ("c1\x85\x9f", "c1\\x85\\x9f"),
    ("lone\x1b", "lone\\x1b"),
    ("one\ntwo\tthree", "one\\ntwo\\tthree"),
    ("\u202eevil\u202c", "\\u202eevil\\u202c"),  # RLO / PDF
    ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # bidi isolates
    ("zw\u200bsp\ufeff", "zw\\u200bsp\\ufeff"),
    ("line\u2028sep", "line\\u2028sep"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("bad\ud800", "bad\\ud800"),  # a lone surrogate would also crash a UTF-8 write
    ("[bold]x[/bold] :warning: caf\u00e9 \u65e5\u672c", "[bold]x[/bold] :warning: caf\u00e9 \u65e5\u672c"),
    (None, ""),
    (42, "42"),
])
def test_sanitize_table(text, expected) -> None:
    assert sanitize(text) == expected
    assert sanitize(sanitize(text)) == sanitize(text)  # idempotent
    assert forbidden(sanitize(text)) == [] and "\n" not in sanitize(text)


def test_sanitize_keeps_newlines_and_tabs_only_when_asked() -> None:
    diff = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-\told\r\n+\t\x1b[32mnew\x1b[0m\n"
    assert sanitize(diff, keep_newlines=True) == "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-\told\\r\n+\tnew\n"


def test_plain_output_methods_sanitise(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output()
    out.console = Console(file=io.StringIO())  # not a terminal: the plain path
    out.line(f"first {OSC_TITLE}\nsecond\r")
    out.fields([("key", HOSTILE), ("none", None)])
    out.table(["col"], [[HOSTILE]], title=f"title {OSC_TITLE}")
    out.error(f"bad {OSC_TITLE}\nthing")
    captured = capsys.readouterr()
    assert forbidden(captured.out) == [] and forbidden(captured.err) == []
    assert "pwned" not in captured.out + captured.err
    assert captured.out.startswith("first \nsecond\\r\n")
    assert captured.err == "agent: error: bad \\nthing\n"  # one line, always


def test_rich_path_prints_no_escape_sequence_from_the_data() -> None:
    out = Output()
    screen, errors = io.StringIO(), io.StringIO()
    # Default consoles (markup and emoji on) on a forced terminal: only Output's own care protects them.
    out.console = Console(force_terminal=True, file=screen, width=400, color_system="truecolor")
    out.err_console = Console(force_terminal=True, file=errors, width=400, color_system="truecolor")
    assert out.rich
    out.line(f"raw {HOSTILE}\nnext line")
    out.line(HOSTILE, style="bold")
    out.fields([("root cause", HOSTILE)])
    out.table(["id", "title"], [[1, HOSTILE]], title=f"issues {OSC_TITLE}")
    out.info(f"progress {HOSTILE}")
    printed = screen.getvalue() + errors.getvalue()
    # Rich may style with its own SGR sequences (ESC [ ... m) but nothing from the data gets through:
    for injected in ("]0;pwned", "pwned", "]8;;", "evil.example", "\x1b]", "\x1b[31m", "\x1b[2J", "\x1bc", "\x9b", "\x07", "\r", "\x08",
                     "\u202e", "\u2066"):
        assert injected not in printed, repr(injected)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", printed)  # rich's own styling removed, nothing else may carry an ESC
    assert "\x1b" not in plain and forbidden(plain) == []
    assert plain.count("[bold]markup[/bold]") == 5 and plain.count(":warning:") == 5  # neither markup nor emoji codes interpreted
    assert "\\u202eevil" in plain and "click here" in plain
