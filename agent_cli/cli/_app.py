"""The root Typer app: global options, the command modules, and error rendering.

Errors become output here and nowhere else: an AgentError is one line on
stderr (plus a JSON object on stdout with --json) and its exit code.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from agent_cli import __version__
from agent_cli.cli._context import AppContext
from agent_cli.cli._render import Output
from agent_cli.errors import EXIT_FAILED, AgentError


class AgentGroup(TyperGroup):
    def invoke(self, ctx: Any) -> Any:  # a click Context; typer's own type for it differs by version
        try:
            return super().invoke(ctx)
        except AgentError as exc:
            _fail(ctx, exc.message, exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)
        except BrokenPipeError:
            # `agent issues | head`: the reader left; nothing more to say.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except Exception as exc:  # the one place an unexpected error is caught
            if _is_cli_flow(exc):
                raise
            out = _output(ctx)
            if out.verbose:
                traceback.print_exc(file=sys.stderr)
            _fail(ctx, f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the traceback)", EXIT_FAILED)


def _is_cli_flow(exc: BaseException) -> bool:
    """Exit, Abort and usage errors belong to click / Typer (which may vendor click)."""
    return type(exc).__module__.split(".")[0] in {"click", "typer"}


def _output(ctx: typer.Context) -> Output:
    obj = ctx.find_object(AppContext)
    return obj.out if obj is not None else Output()


def _fail(ctx: typer.Context, message: str, code: int) -> None:
    out = _output(ctx)
    out.error(message)
    if out.json_mode:
        out.result({"ok": False, "error": message, "exit_code": code})
    ctx.exit(code)


app = typer.Typer(
    name="agent",
    cls=AgentGroup,
    help="Keeps a web application healthy: scan, diagnose, fix, deploy, verify, roll back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"agent-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", envvar="AGENT_CONFIG", help="Config file (default ./agent.toml).", show_default=False
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail; tracebacks for internal errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
) -> None:
    ctx.obj = AppContext(
        config_path=config or Path("agent.toml"),
        out=Output(json_mode=json_output, quiet=quiet, verbose=verbose),
    )


def _register() -> None:
    # One module per command, each a small Typer app merged into the root.
    from agent_cli.cli import (
        approvals,
        audit,
        demo,
        deploy,
        diagnose,
        fix,
        init,
        issues,
        llm,
        pause,
        report,
        rollback,
        run,
        scan,
        show,
        status,
        verify,
    )

    for module in (init, scan, issues, show, diagnose, fix, deploy, verify, rollback, approvals, pause, status, report, run, audit, llm, demo):
        app.add_typer(module.app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="agent")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
