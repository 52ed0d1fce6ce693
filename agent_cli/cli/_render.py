"""Output: one JSON object with --json, rich on a terminal, plain text when piped.

Text printed for people is untrusted (log lines, model answers, error bodies), so
every `Output` method passes it through `sanitize` first, on the rich and the
plain path alike: a terminal escape sequence (CSI such as colours, OSC such as
window titles and hyperlinks, DCS/APC/PM/SOS strings, other ESC sequences, and
their 8-bit C1 forms) is removed whole, and any other control or invisible
character (C0 but newline and tab where kept, DEL, C1, bidi overrides and
isolates, zero-width and other format characters, line/paragraph separators,
lone surrogates, tag characters) is shown as a visible escape such as `\\x1b`,
`\\r` or `\\u202e`. On the rich path text goes in as `rich.text.Text`, so
neither rich markup (`[bold]`) nor emoji codes in data are interpreted.
JSON output (`--json`) is left alone: json.dumps already escapes it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

# Terminal escape sequences, removed whole (ECMA-48; 7-bit ESC forms and 8-bit C1 forms).
_ST = r"(?:\x1b\\|\x9c)"
ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase, ...
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|" + _ST + r")"  # OSC: title, hyperlink (OSC 8), clipboard (OSC 52)
    + r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*" + _ST  # DCS, SOS, PM, APC strings
    + r"|\x1b[ -/]*[0-~]"  # other escapes: charset, keypad, RIS (ESC c), ...
)
# Characters shown as visible escapes. \n and \t are in it; `sanitize` keeps them when asked.
UNSAFE_CHAR = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 controls
    "\u00ad\u061c\u180e"  # soft hyphen, Arabic letter mark, Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space/joiners, LRM, RLM
    "\u2028-\u202e"  # line/paragraph separators; LRE RLE PDF LRO RLO (bidi embeddings and overrides)
    "\u2060-\u206f"  # word joiner, invisible operators, LRI RLI FSI PDI (bidi isolates), deprecated formats
    "\ufeff\ufff9-\ufffb"  # BOM / zero-width no-break space, interlinear annotations
    "\ud800-\udfff"  # lone surrogates (would also crash a UTF-8 write)
    "\U000e0000-\U000e007f]"  # tag characters (invisible ASCII)
)
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def sanitize(value: Any, *, keep_newlines: bool = False) -> str:
    """`value` as text safe for a terminal: escape sequences removed, other controls made visible.

    With keep_newlines, `\\n` and `\\t` stay (multi-line text such as diffs and tracebacks);
    `\\r` never does. The result has no control, bidi or invisible format character, and
    sanitizing it again changes nothing.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to do
        return text
    text = ESCAPE_SEQUENCE.sub("", text)
    if keep_newlines:
        return UNSAFE_CHAR.sub(lambda m: m.group() if m.group() in "\n\t" else _visible(m), text)
    return UNSAFE_CHAR.sub(_visible, text)


class Output:
    def __init__(self, *, json_mode: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose

    @cached_property
    def console(self) -> Any:
        from rich.console import Console

        return Console(highlight=False, soft_wrap=True, emoji=False, markup=False)

    @cached_property
    def err_console(self) -> Any:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)

    @property
    def rich(self) -> bool:
        # Piped output (cron mail, CI logs) is plain, and then rich's console (tens of ms to import) is never built.
        # FORCE_COLOR / TTY_COMPATIBLE are rich's own ways to ask for a terminal where there is none.
        built = "console" in self.__dict__  # a console already made (or given) decides for itself
        if not (built or sys.stdout.isatty() or os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE")):
            return False
        return bool(self.console.is_terminal)

    def result(self, data: dict[str, Any], render_text: Callable[[], None] | None = None) -> None:
        """The command's result: JSON, or the text renderer unless --quiet."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, default=str, sort_keys=False) + "\n")
            sys.stdout.flush()
        elif not self.quiet and render_text is not None:
            render_text()

    def line(self, text: Any = "", style: str | None = None) -> None:
        """One block of text; newlines and tabs in it are kept (diffs, tracebacks)."""
        clean = sanitize(text, keep_newlines=True)
        if self.rich:
            from rich.text import Text

            self.console.print(Text(clean, style=style or ""))
        else:
            sys.stdout.write(clean + "\n")

    def info(self, text: Any) -> None:
        """Progress for people (stderr); silent with --quiet or --json."""
        if not (self.quiet or self.json_mode):
            from rich.text import Text

            self.err_console.print(Text(sanitize(text)))

    def error(self, message: Any) -> None:
        sys.stderr.write(f"agent: error: {sanitize(message)}\n")
        sys.stderr.flush()

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        clean = [(sanitize(k), sanitize(v)) for k, v in pairs]
        width = max((len(k) for k, _ in clean), default=0)
        for key, value in clean:
            if self.rich:
                from rich.text import Text

                self.console.print(Text.assemble((key.ljust(width), "bold"), "  ", value))
            else:
                sys.stdout.write(f"{key.ljust(width)}  {value}\n")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
        heads = [sanitize(c) for c in columns]
        cells = [[sanitize(v) for v in row] for row in rows]
        if self.rich:
            from rich.table import Table
            from rich.text import Text

            table = Table(title=Text(sanitize(title, keep_newlines=True)) if title else None, show_lines=False)
            for column in heads:
                table.add_column(Text(column), overflow="fold")
            for row in cells:
                table.add_row(*(Text(v) for v in row))
            self.console.print(table)
            return
        if title:
            sys.stdout.write(sanitize(title, keep_newlines=True) + "\n")
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(heads)]
        for row in [heads] + cells:
            sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")
