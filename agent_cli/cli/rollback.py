from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    env: str = typer.Option("production", "--env", help="Environment to roll back."),
    to: Optional[str] = typer.Option(None, "--to", help="Revert every commit after this ref (hand-pushed ones included)."),
    force: bool = typer.Option(False, "--force", help="Run while paused and skip policy (never the lock or the audit)."),
    reason: str = typer.Option("", "--reason", help="Why; recorded in the audit log and the incident report."),
    strategy: str = typer.Option("revert", "--strategy", help="revert (a revert commit pushed forward) or reset (force-with-lease)."),
    lock_timeout: float = typer.Option(600.0, "--lock-timeout", help="With --force: seconds to wait for the run lock."),
) -> None:
    """Revert the last agent deployment in an environment (or every commit after REF), then check health is back.

    Example: agent rollback --env production --force --reason "checkout errors"
    """
    from agent_cli.gates import FORCED, MANUAL
    from agent_cli.release.rollback import rollback

    appctx = app_context(ctx)
    # An incident responder's forced rollback queues behind a running cycle instead of failing with 75.
    with appctx.locked_run("rollback", lock_timeout=lock_timeout if force else 0) as run:
        result = rollback(run, env, to=to, reason=reason, strategy=strategy, mode=FORCED if force else MANUAL)
    appctx.out.result(result, lambda: _render(appctx.out, result))


def _render(out: Output, r: dict[str, Any]) -> None:
    if r["status"] == "nothing_to_do":
        out.line(f"nothing to roll back: {r['reason']}")
        return
    out.line(f"{r['env']}: {r['status']}; reverted {len(r['reverted'])} commits as {(r['rollback_sha'] or '')[:12]}")
    out.line(f"  {r['reason']}")
    if r.get("issue_status"):
        out.line(f"  issue now {r['issue_status']}")
    out.line(f"  incident report: {r['incident']}")
