"""Stack traces of each runtime come out as one event each: whole, typed, with their frames in the language's order.

Real output (tests/fixtures/traces/, the programs that printed it are next to it): Python 3.11
(`python_bare_exception.py.txt`, `python_exception_group.py.txt`), Go 1.19 (`go_nil_panic.go`, `go_http_panic.go`),
Java 17 (`Main.java`, run as `java Main.java`). Written by hand in the formats the runtimes print (and as they appear
in public bug reports): Python after a log prefix, Java `nested exception is:` and blank-line-then-`at`, ASP.NET
Core's console logger, PHP's uncaught fatal error, Ruby 3.4 and Rails (Logger `FATAL -- :`), Dart's
`Unhandled exception:`, Firefox and Safari `fn@url:line:col` stacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_cli.detect.events import Event, parse_block, throw_site_first
from agent_cli.detect.record_finder import markers_for, scan_buffer
from tests.conftest import Project

TRACES = Path(__file__).parent / "fixtures" / "traces"


def events_of(name: str) -> list[Event]:
    """The events of a fixture as a file source reads them (min_level warning, the default)."""
    buf = (TRACES / name).read_bytes()
    blocks = scan_buffer(buf, markers_for("warning"), "warning").blocks
    return [parse_block(b.text.decode().rstrip("\r\n"), source="t") for b in blocks]


def first_last(event: Event) -> tuple[str, str]:
    lines = event.raw.rstrip("\n").split("\n")
    return lines[0], lines[-1]


def frames_of(event: Event) -> list[tuple[str, int | None, str]]:
    return [(f.file, f.line, f.function) for f in event.frames]


@pytest.fixture
def cli_events(project: Project):
    project.config.write_text('[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n')

    def run(name: str) -> list[dict]:
        result = project.cli("scan", "--dry-run", "--events", "--path", str(TRACES / name))
        assert result.exit_code == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    return run


# --- Python -------------------------------------------------------------------------------------------------


def test_python_bare_traceback_ending_in_plain_exception(cli_events) -> None:
    (event,) = events_of("python_bare_exception.log")
    assert first_last(event) == ("Traceback (most recent call last):", "Exception: plain failure")
    assert (event.level, event.exception_type, event.exception_message) == ("error", "Exception", "plain failure")
    assert frames_of(event) == [("/tmp/tr/exc.py", 3, "<module>"), ("/tmp/tr/exc.py", 2, "f")]
    assert throw_site_first(event.frames)[0].function == "f"
    assert [(r["line"], r["exception_type"]) for r in cli_events("python_bare_exception.log")] == [(1, "Exception")]


def test_python_traceback_after_a_log_prefix_keeps_its_last_line(cli_events) -> None:
    first, second = events_of("python_prefixed.log")
    assert first_last(first) == ("2026-11-21 10:00:05,004 ERROR app.tasks: Traceback (most recent call last):",
                                 "app.errors.Error: bad payload")
    assert (first.exception_type, first.exception_message, first.message) == ("app.errors.Error", "bad payload", "app.errors.Error: bad payload")
    assert frames_of(first) == [("/app/app/tasks.py", 12, "run"), ("/app/app/tasks.py", 30, "load")]
    assert first_last(second) == ("2026-11-21 10:00:07,000 ERROR app.worker: job 7 failed", "Exception")
    assert (second.exception_type, second.message) == ("Exception", "job 7 failed")
    assert frames_of(second) == [("/app/app/worker.py", 8, "handle")]
    # No bogus event for the exception line; the INFO line between is not an event.
    assert [(r["line"], r["exception_type"]) for r in cli_events("python_prefixed.log")] == [(1, "app.errors.Error"), (8, "Exception")]


def test_python_exception_group_is_one_event_typed_by_the_group() -> None:
    (event,) = events_of("python_exception_group.log")
    assert first_last(event) == ("  + Exception Group Traceback (most recent call last):", "    +------------------------------------")
    assert (event.level, event.exception_type, event.exception_message) == ("error", "ExceptionGroup", "two failures (2 sub-exceptions)")
    # The group's own frames; the sub-exceptions' tracebacks stay in raw.
    assert frames_of(event) == [("/tmp/tr/grp.py", 9, "<module>"), ("/tmp/tr/grp.py", 8, "main")]
    assert "ValueError: bad value" in event.raw and "TypeError: bad type" in event.raw


# --- Java -----------------------------------------------------------------------------------------------------


def test_java_uncaught_with_caused_by_real_output(cli_events) -> None:
    (event,) = events_of("java_caused_by.log")
    assert first_last(event) == ('Exception in thread "main" java.lang.IllegalStateException: no stock',
                                 "\tat jdk.compiler/com.sun.tools.javac.launcher.Main.main(Main.java:132)")
    assert (event.exception_type, event.exception_message) == ("java.lang.IllegalStateException", "no stock")
    assert frames_of(event)[:3] == [("Main.java", 4, "Main.place"), ("Main.java", 6, "Main.main"), ("Main.java", 2, "Main.query")]
    assert [r["exception_type"] for r in cli_events("java_caused_by.log")] == ["java.lang.IllegalStateException"]


def test_java_nested_exception_is_and_blank_line_then_at(cli_events) -> None:
    nested, blank = events_of("java_nested_blank.log")
    assert first_last(nested) == ("2026-11-21 10:00:07 ERROR o.a.c.c.C.[dispatcherServlet] - Servlet.service() threw exception",
                                  "\tat com.shop.rmi.OrderService.place(OrderService.java:88)")
    assert nested.exception_type == "java.rmi.ServerException"
    assert "java.lang.ClassNotFoundException: com.shop.OrderDto" in nested.raw
    assert frames_of(nested) == [("UnicastServerRef.java", 419, "sun.rmi.server.UnicastServerRef.dispatch"),
                                 ("OrderService.java", 88, "com.shop.rmi.OrderService.place")]
    assert first_last(blank) == ("2026-11-21 10:00:09 ERROR c.s.Orders - order failed", "\t... 2 more")
    assert (blank.exception_type, blank.exception_message) == ("com.shop.OrderException", "no stock for sku 42")
    assert frames_of(blank) == [("Orders.java", 42, "com.shop.Orders.place"), ("Api.java", 17, "com.shop.Api.post"),
                                ("Db.java", 7, "com.shop.Db.query")]
    assert [(r["line"], r["exception_type"]) for r in cli_events("java_nested_blank.log")] == [
        (1, "java.rmi.ServerException"), (8, "com.shop.OrderException")]


# --- Go -------------------------------------------------------------------------------------------------------


def test_go_runtime_panic_real_output(cli_events) -> None:
    (event,) = events_of("go_nil_panic.log")
    assert first_last(event) == ("panic: runtime error: invalid memory address or nil pointer dereference", "\t/tmp/tr/gp/main.go:12 +0x16")
    assert (event.level, event.exception_type, event.exception_message) == (
        "critical", "panic", "runtime error: invalid memory address or nil pointer dereference")
    assert frames_of(event) == [("/tmp/tr/gp/main.go", 6, "main.lookup"), ("/tmp/tr/gp/main.go", 12, "main.main")]
    assert {f.lang for f in event.frames} == {"go"} and throw_site_first(event.frames)[0].function == "main.lookup"
    assert [(r["line"], r["exception_type"]) for r in cli_events("go_nil_panic.log")] == [(1, "panic")]


def test_go_http_panic_serving_real_output(cli_events) -> None:
    panic, after = events_of("go_http_panic_serving.log")
    assert first_last(panic) == (
        "2026/12/01 10:07:24 http: panic serving 127.0.0.1:49244: runtime error: index out of range [3] with length 0",
        "\t/usr/lib/go-1.19/src/net/http/server.go:3102 +0x4db")
    assert (panic.exception_type, panic.exception_message) == ("panic", "runtime error: index out of range [3] with length 0")
    assert frames_of(panic)[:4] == [
        ("/usr/lib/go-1.19/src/net/http/server.go", 1850, "net/http.(*conn).serve.func1"),
        ("/usr/lib/go-1.19/src/runtime/panic.go", 890, "panic"),
        ("/tmp/tr/gh/main.go", 12, "main.firstItem"),
        ("/tmp/tr/gh/main.go", 16, "main.handler"),
    ]
    assert len(panic.frames) == 7  # "created by" is where the goroutine started, not a frame of its stack
    assert [f.function for f in panic.frames if f.in_app] == ["main.firstItem", "main.handler"]
    assert after.exception_type is None and after.message.startswith("request failed")
    assert [r["line"] for r in cli_events("go_http_panic_serving.log")] == [1, 19]


# --- .NET -----------------------------------------------------------------------------------------------------


def test_dotnet_async_trace_under_aspnet_console_log(cli_events) -> None:
    (event,) = events_of("dotnet_async.log")
    assert first_last(event) == ("fail: Microsoft.AspNetCore.Server.Kestrel[13]",
                                 "   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.Execute(Object target)")
    assert (event.level, event.exception_type, event.exception_message) == ("error", "System.InvalidOperationException", "Order 42 has no lines")
    assert frames_of(event) == [
        ("/src/Shop/Orders/OrderService.cs", 27, "Shop.Orders.OrderService.PlaceAsync"),
        ("", None, "System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess"),
        ("/src/Shop/Api/OrdersController.cs", 15, "Shop.Api.OrdersController.Post"),
        ("", None, "Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.Execute"),
    ]
    assert [f.in_app for f in event.frames] == [True, False, True, False]
    assert throw_site_first(event.frames)[0].function == "Shop.Orders.OrderService.PlaceAsync"
    assert [r["exception_type"] for r in cli_events("dotnet_async.log")] == ["System.InvalidOperationException"]


# --- PHP, Ruby, Dart, browsers --------------------------------------------------------------------------------


def test_php_uncaught_fatal_error_pairs_positions_with_their_functions(cli_events) -> None:
    (event,) = events_of("php_uncaught.log")
    assert first_last(event) == (
        "[21-Nov-2026 10:00:11 UTC] PHP Fatal error:  Uncaught InvalidArgumentException: Unknown sku 42 in /var/www/app/src/Cart.php:18",
        "  thrown in /var/www/app/src/Cart.php on line 18")
    assert (event.level, event.exception_type, event.exception_message) == ("critical", "InvalidArgumentException", "Unknown sku 42")
    # "#0 Api.php(30): App\\Cart->add()" is a call made from Api.php:30: the throw site is Cart.php:18 in add().
    assert frames_of(event) == [
        ("/var/www/app/src/Cart.php", 18, "App\\Cart->add"),
        ("/var/www/app/src/Api.php", 30, "App\\Api->post"),
        ("", None, "call_user_func"),
        ("/var/www/app/public/index.php", 7, "{main}"),
    ]
    assert throw_site_first(event.frames)[0].file == "/var/www/app/src/Cart.php"
    # The notice after it is its own (warning-level) record, not part of the trace.
    assert [(r["line"], r["exception_type"]) for r in cli_events("php_uncaught.log")] == [(1, "InvalidArgumentException")]


def test_ruby_uncaught_exception() -> None:
    (event,) = events_of("ruby_uncaught.log")
    assert first_last(event) == ("/app/lib/orders.rb:12:in 'Orders#place': no stock for sku 42 (RuntimeError)", "\tfrom /app/main.rb:5:in '<main>'")
    assert (event.level, event.exception_type, event.exception_message) == ("error", "RuntimeError", "no stock for sku 42")
    assert frames_of(event) == [("/app/lib/orders.rb", 12, "Orders#place"), ("/app/app/api.rb", 30, "Api#post"), ("/app/main.rb", 5, "<main>")]
    assert throw_site_first(event.frames)[0].function == "Orders#place"


def test_rails_type_message_heads_with_frames_at_the_margin(cli_events) -> None:
    found, template = events_of("rails_fatal.log")
    assert first_last(found) == ("F, [2026-11-21T10:00:11.272785 #43150] FATAL -- : [req-7]", "  app/controllers/orders_controller.rb:7:in `show'")
    assert (found.exception_type, found.exception_message) == ("ActiveRecord::RecordNotFound", "Couldn't find Order with 'id'=42")
    assert [f.function for f in found.frames] == ["block in find", "find", "show"]
    assert [f.in_app for f in found.frames] == [True, False, True]
    assert first_last(template) == ("F, [2026-11-21T10:00:13.000001 #43150] FATAL -- : ActionView::Template::Error (undefined method 'name' for nil):",
                                    "app/controllers/orders_controller.rb:9:in 'show'")
    assert (template.exception_type, template.exception_message) == ("ActionView::Template::Error", "undefined method 'name' for nil")
    assert frames_of(template) == [("app/views/orders/show.html.erb", 3, "block in _app_views_orders_show"),
                                   ("app/controllers/orders_controller.rb", 9, "show")]
    assert [(r["line"], r["exception_type"]) for r in cli_events("rails_fatal.log")] == [
        (2, "ActiveRecord::RecordNotFound"), (8, "ActionView::Template::Error")]


def test_dart_unhandled_exception(cli_events) -> None:
    (event,) = events_of("dart_unhandled.log")
    assert first_last(event) == ("Unhandled exception:", "#5      _RawReceivePort._handleMessage (dart:isolate-patch/isolate_patch.dart:184:12)")
    assert (event.level, event.exception_type, event.exception_message) == ("error", "FormatException", "Invalid radix-10 number (at character 1)")
    assert frames_of(event)[:4] == [
        ("dart:core-patch/integers_patch.dart", 195, "int._throwFormatException"),
        ("dart:core-patch/integers_patch.dart", 61, "int.parse"),
        ("file:///app/bin/cart.dart", 4, "parseQty"),
        ("file:///app/bin/cart.dart", 9, "main"),
    ]
    assert [f.function for f in event.frames if f.in_app] == ["parseQty", "main"]
    assert [r["exception_type"] for r in cli_events("dart_unhandled.log")] == ["FormatException"]


def test_firefox_and_safari_stacks(cli_events) -> None:
    firefox, safari = events_of("firefox_safari.log")
    assert first_last(firefox) == ('2026-11-21T10:00:14Z ERROR browser: TypeError: can\'t access property "name", team is undefined',
                                   "@https://shop.example/static/app.js:12:9")
    assert (firefox.exception_type, firefox.exception_message) == ("TypeError", 'can\'t access property "name", team is undefined')
    assert [(f.function, f.line, f.column) for f in firefox.frames] == [("getTeam", 11, 25), ("handler", 6, 38), ("<anonymous>", 12, 9)]
    assert {f.lang for f in firefox.frames} == {"js"} and throw_site_first(firefox.frames)[0].function == "getTeam"
    assert first_last(safari)[1] == "global code@https://shop.example/static/app.js:12:9"
    assert (safari.exception_type, safari.exception_message) == ("TypeError", "undefined is not an object (evaluating 'team.name')")
    assert [(f.file, f.line, f.function) for f in safari.frames] == [
        ("https://shop.example/static/app.js", 11, "getTeam"), ("https://shop.example/static/app.js", 12, "global code")]
    assert [r["line"] for r in cli_events("firefox_safari.log")] == [1, 5]
