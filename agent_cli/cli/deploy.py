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
    dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate the deploy gate and print every rule's decision; change nothing."),
) -> None:
    """Ship the issue's fix to an environment: merge, push, deploy_command, status_command; then `agent verify` watches it.

    A person's deploy passes the rules a person may override (see README: the gates); the rest still hold.

    Example: agent deploy 12 --env staging --dry-run
    """
    from agent_cli.release.deploy import deploy, deploy_decision

    appctx = app_context(ctx)
    with appctx.locked_run("deploy") as run:
        if dry_run:
            verdict = deploy_decision(run, issue, env).as_dict()
            appctx.out.result({"dry_run": True, "issue": issue, "env": env, **verdict}, lambda: _render_verdict(appctx.out, verdict))
            return
        result = deploy(run, issue, env)
    appctx.out.result(result, lambda: _render(appctx.out, result))


def _render_verdict(out: Output, v: dict[str, Any]) -> None:
    out.line(f"would {'deploy' if v['verdict'] in ('allow', 'notify') else 'not deploy'}: {v['verdict']} ({v['rule']}: {v['reason']})")
    for d in v["decisions"]:
        out.line(f"  {d['verdict']:8} {d['rule']}: {d['reason']}")


def _render(out: Output, r: dict[str, Any]) -> None:
    how = "fast-forward" if r["fast_forward"] else "merge commit"
    out.line(f"deployment {r['deployment']}: issue {r['issue']} live on {r['env']} at {r['sha'][:12]} ({how} on {r['previous_sha'][:12]})")
    base = r["baseline"]
    rate = "no data" if base.get("error_rate") is None else f"{base['error_rate']:.2%} of {base['lines']} lines"
    out.line(f"baseline: error rate {rate}; " + (", ".join(f"{u} {v['median_ms']} ms" for u, v in base.get("latency", {}).items()) or "no health URLs"))
    out.line("now monitoring: `agent verify` samples it")
