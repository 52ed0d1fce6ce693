from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output
from agent_cli.errors import EXIT_FAILED

app = typer.Typer()


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    env: Optional[str] = typer.Option(None, "--env", help="Only deployments to this environment."),
    wait: bool = typer.Option(False, "--wait", help="Keep sampling until every deployment is decided."),
) -> None:
    """Sample health of active deployments; promote or roll back when decided.

    Example: agent verify --env staging --wait
    """
    from agent_cli.release.verify import verify

    appctx = app_context(ctx)
    with appctx.locked_run("verify") as run:
        result = verify(run, env=env, wait=wait)
        if result["failures"]:
            run.conclude(EXIT_FAILED, "; ".join(result["failures"])[:500])
    appctx.out.result(result, lambda: _render(appctx.out, result))
    if result["failures"]:
        for failure in result["failures"]:
            appctx.out.error(failure)
        raise typer.Exit(EXIT_FAILED)


def _render(out: Output, r: dict[str, Any]) -> None:
    if not r["deployments"]:
        out.line("no active deployments")
    for d in r["deployments"]:
        head = f"deployment {d['deployment']} ({d['env']}): {d['phase']}"
        if not d.get("sampled", True):
            out.line(f"{head}; not sampled: {d['reason']}")
            continue
        out.line(f"{head}" + (f", sample {d['verdict']}" if d.get("verdict") else "") + (f": {d['reason']} ({d['rule']})" if d.get("rule") else ""))
        for c in d.get("checks", []):
            out.line(f"  {c['check']} {c['target']}: {c['verdict']}: {c['detail']}")
        if d.get("rollback"):
            out.line(f"  rolled back: {d['rollback']['status']}; incident report {d['rollback']['incident']}")
        if d.get("held"):
            out.line(f"  held for a person: approval {d['approval']} (inconclusive; neither promoted nor rolled back)")
        if d.get("eligible_for"):
            out.line(f"  healthy: eligible for {d['eligible_for']} (`agent deploy {d['issue']} --env {d['eligible_for']}`)")
        if d.get("issue_status") == "resolved":
            out.line(f"  issue {d['issue']} resolved; watched until {d['watch_until']}")
        if d.get("error"):
            out.line(f"  {d['error']}")
