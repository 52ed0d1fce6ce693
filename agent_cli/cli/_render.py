"""Output: one JSON object with --json, rich on a terminal, plain text when piped."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any


class Output:
    def __init__(self, *, json_mode: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose

    @cached_property
    def console(self) -> Any:
        from rich.console import Console

        return Console(highlight=False, soft_wrap=True)

    @cached_property
    def err_console(self) -> Any:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def rich(self) -> bool:
        return bool(self.console.is_terminal)

    def result(self, data: dict[str, Any], render_text: Callable[[], None] | None = None) -> None:
        """The command's result: JSON, or the text renderer unless --quiet."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, default=str, sort_keys=False) + "\n")
            sys.stdout.flush()
        elif not self.quiet and render_text is not None:
            render_text()

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.rich:
            self.console.print(text, style=style, markup=False)
        else:
            sys.stdout.write(text + "\n")

    def info(self, text: str) -> None:
        """Progress for people (stderr); silent with --quiet or --json."""
        if not (self.quiet or self.json_mode):
            self.err_console.print(text, markup=False)

    def error(self, message: str) -> None:
        sys.stderr.write(f"agent: error: {message}\n")
        sys.stderr.flush()

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            if self.rich:
                self.console.print(f"[bold]{key.ljust(width)}[/bold]  ", end="")
                self.console.print("" if value is None else str(value), markup=False)
            else:
                sys.stdout.write(f"{key.ljust(width)}  {'' if value is None else value}\n")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        if self.rich:
            from rich.table import Table

            table = Table(title=title, show_lines=False)
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in cells:
                table.add_row(*row)
            self.console.print(table)
            return
        if title:
            sys.stdout.write(title + "\n")
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        for row in [list(columns)] + cells:
            sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")
