import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("scan")
def scan_command(
    ctx: typer.Context,
    source: Optional[list[str]] = typer.Option(None, "--source", help="Only this source (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Change no state and no cursor (use with --events)."),
    events: bool = typer.Option(False, "--events", help="With --dry-run: one JSON line per event, read from the start."),
    path: Optional[Path] = typer.Option(None, "--path", help="With --dry-run --events: read only this file."),
) -> None:
    """Read new log lines / probes since the last scan and group events into issues."""
    appctx = app_context(ctx)
    if dry_run or events or path:
        if not (dry_run and events):
            raise typer.BadParameter("--events and --path go with --dry-run --events")
        from agent_cli.detect.scan import dry_run_events

        for record in dry_run_events(appctx.settings(), source_names=source, path=path):
            sys.stdout.write(json.dumps(record) + "\n")
        return
    from agent_cli.detect.scan import scan

    with appctx.locked_run("scan") as run:
        result = scan(run, source_names=source)
    appctx.out.result(result.as_dict(), lambda: _render(appctx.out, result.as_dict()))


def _render(out: Output, r: dict[str, Any]) -> None:
    for name, s in r["sources"].items():
        out.line(f"{name}: {s['lines']} lines, {s['events']} events" + (f", {len(s['errors'])} problems" if s["errors"] else ""))
        if out.verbose:
            for error in s["errors"]:
                out.line(f"  {error}")
    rows = [(i["id"], i["severity"], "new" if i in r["new_issues"] else "updated", i["new_events"], i["title"]) for i in r["new_issues"] + r["updated_issues"]]
    if rows:
        out.table(["id", "sev", "", "events", "title"], rows)
    else:
        out.line("no new events")
