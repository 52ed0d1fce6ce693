from typing import Any

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    issue: int = typer.Argument(..., help="Issue id."),
    env: str = typer.Option("staging", "--env", help="staging or production."),
) -> None:
    """Ship the issue's fix to an environment: merge, push, deploy_command, status_command; then `agent verify` watches it.

    Example: agent deploy 12 --env staging
    """
    from agent_cli.release import deploy

    appctx = app_context(ctx)
    with appctx.locked_run("deploy") as run:
        result = deploy(run, issue, env)
    appctx.out.result(result, lambda: _render(appctx.out, result))


def _render(out: Output, r: dict[str, Any]) -> None:
    how = "fast-forward" if r["fast_forward"] else "merge commit"
    out.line(f"deployment {r['deployment']}: issue {r['issue']} live on {r['env']} at {r['sha'][:12]} ({how} on {r['previous_sha'][:12]})")
    base = r["baseline"]
    rate = "no data" if base.get("error_rate") is None else f"{base['error_rate']:.2%} of {base['lines']} lines"
    out.line(f"baseline: error rate {rate}; " + (", ".join(f"{u} {v['median_ms']} ms" for u, v in base.get("latency", {}).items()) or "no health URLs"))
    out.line("now monitoring: `agent verify` samples it")
