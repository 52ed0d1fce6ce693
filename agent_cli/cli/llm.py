from typing import Any, Optional

import typer

from agent_cli.cli._context import app_context
from agent_cli.cli._render import Output

app = typer.Typer()
llm_app = typer.Typer(help="The model's calls: what was asked, what it cost.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")


@llm_app.command("log")
def log_command(
    ctx: typer.Context,
    issue: Optional[int] = typer.Option(None, "--issue", help="Only the calls for this issue."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many calls, newest first."),
) -> None:
    """The recorded LLM calls: time, model, step, tokens in/out/thinking, cost, latency, outcome (-v: the redacted prompts).

    Example: agent llm log --issue 12 --limit 5
    """
    from agent_cli.llm import call_log

    appctx = app_context(ctx)
    with appctx.state() as state:
        rows = call_log(state, issue_id=issue, limit=limit, prompts=appctx.out.verbose)
    appctx.out.result({"calls": rows}, lambda: _render(appctx.out, rows))


def _render(out: Output, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.line("no LLM calls recorded")
        return
    out.table(["id", "time", "issue", "step", "model", "in", "out", "thinking", "cost", "ms", "outcome"],
              [(r["id"], r["ts"][:19], r["issue_id"] or "-", r["step"], r["model"], r["input_tokens"], r["output_tokens"], r["thinking_tokens"],
                f"${r['cost_usd']:.4f}", round(r["latency_ms"]) if r["latency_ms"] is not None else "-", r["outcome"][:80]) for r in rows])
    for r in rows:
        if "prompt" in r:
            out.line(f"--- call {r['id']} prompt ---")
            out.line(r["prompt"])
