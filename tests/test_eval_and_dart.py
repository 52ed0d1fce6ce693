"""V8 eval frames read to the file that called eval; Dart errors whose message names no type."""

from __future__ import annotations

import pytest

from agent_cli.detect.events import parse_block
from agent_cli.detect.record_finder import markers_for, scan_buffer

EVAL_TRACE = (
    "TypeError: Cannot read properties of undefined (reading 'x')\n"
    "    at eval (eval at <anonymous> (/srv/app/src/render.js:1:2), <anonymous>:3:4)\n"
    "    at Object.eval [as fn] (eval at compile (eval at load (/srv/app/src/tpl.js:10:5), <anonymous>:2:3), <anonymous>:1:1)\n"
    "    at render (/srv/app/src/render.js:20:7)\n"
)


def test_chrome_eval_frames_name_the_real_file() -> None:
    (block,) = scan_buffer(EVAL_TRACE.encode(), markers_for("warning"), "warning").blocks
    event = parse_block(block.text.decode().rstrip("\n"), source="web")
    assert event.exception_type == "TypeError"
    assert [(f.file, f.line, f.column, f.function, f.lang) for f in event.frames] == [
        ("/srv/app/src/render.js", 1, 2, "eval", "js"),
        ("/srv/app/src/tpl.js", 10, 5, "Object.eval [as fn]", "js"),  # nested evals: the innermost real position
        ("/srv/app/src/render.js", 20, 7, "render", "js"),
    ]


def dart(body: str) -> str:
    return (f"Unhandled exception:\n{body}\n#0      main (file:///app/bin/main.dart:5:3)\n"
            "#1      _delayEntrypointInvocation.<anonymous closure> (dart:isolate-patch/isolate_patch.dart:297:19)\n")


@pytest.mark.parametrize(("body", "exc_type", "exc_message"), [
    ("Bad state: No element", "StateError", "No element"),
    ("Invalid argument(s): negative", "ArgumentError", "negative"),
    ("RangeError (index): Invalid value: Not in inclusive range 0..2: 3", "RangeError", "Invalid value: Not in inclusive range 0..2: 3"),
    ("Unsupported operation: Cannot add to an unmodifiable list", "UnsupportedError", "Cannot add to an unmodifiable list"),
    ("Null check operator used on a null value", "TypeError", "Null check operator used on a null value"),
    ("type 'Null' is not a subtype of type 'String'", "TypeError", "type 'Null' is not a subtype of type 'String'"),
    ("Instance of 'CartGone'", "CartGone", None),
    ("FormatException: Invalid radix-10 number", "FormatException", "Invalid radix-10 number"),
])
def test_dart_errors_without_a_type_in_their_message(body: str, exc_type: str, exc_message: str | None) -> None:
    (block,) = scan_buffer(dart(body).encode(), markers_for("warning"), "warning").blocks
    event = parse_block(block.text.decode().rstrip("\n"), source="app")
    assert (event.exception_type, event.exception_message, event.level) == (exc_type, exc_message, "error")
    assert [f.function for f in event.frames if f.in_app] == ["main"] and len(event.frames) == 2


def test_a_thrown_dart_string_keeps_its_message_and_frames() -> None:
    (block,) = scan_buffer(dart("out of coffee").encode(), markers_for("warning"), "warning").blocks
    event = parse_block(block.text.decode().rstrip("\n"), source="app")
    assert (event.exception_type, event.message, event.level, len(event.frames)) == (None, "out of coffee", "error", 2)
