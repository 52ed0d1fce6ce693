"""`agent diagnose`: context, suspects, a provider's answer, adjusted confidence, stored and audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_cli.diagnose.confidence import adjust
from agent_cli.diagnose.context import build_context
from agent_cli.diagnose.offline import analyse
from agent_cli.diagnose.prompts import SYSTEM, diagnosis_prompt
from agent_cli.diagnose.suspects import find_suspects
from agent_cli.errors import ConfigError, StepFailed
from agent_cli.issues import load
from agent_cli.llm import BudgetExceeded, LLMUnavailable, ToolCaller, fall_back, provider_name
from agent_cli.llm_schema import REPORT_DIAGNOSIS, DiagnosisAnswer
from agent_cli.redact import redact
from agent_cli.runner import Run
from agent_cli.state import utcnow
from agent_cli.store import diagnoses
from agent_cli.store import issues as issue_store
from agent_cli.transitions import move

DIAGNOSABLE = ("detected", "diagnosed", "needs_human", "rolled_back", "fix_ready")


@dataclass
class DiagnoseResult:
    diagnosed: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"diagnosed": self.diagnosed, "refused": self.refused, "failed": self.failed}


def _targets(run: Run, issue_ids: list[int] | None) -> list[int]:
    if not issue_ids:
        return sorted(r["id"] for r in issue_store.summaries(run.state, status="detected"))
    for issue_id in issue_ids:
        if issue_store.status(run.state, issue_id) is None:
            raise ConfigError(f"no issue {issue_id} (see `agent issues`)")
    return list(dict.fromkeys(issue_ids))


def diagnose(run: Run, issue_ids: list[int] | None = None) -> DiagnoseResult:
    result = DiagnoseResult()
    provider = provider_name(run.settings)
    git = _git(run)
    for issue_id in _targets(run, issue_ids):
        issue = load(run.state, issue_id)
        if issue["status"] not in DIAGNOSABLE:
            result.refused.append({"id": issue_id, "reason": f"issue is {issue['status']}; only {', '.join(DIAGNOSABLE)} issues are diagnosed"})
            continue
        try:
            result.diagnosed.append(_diagnose_one(run, issue, provider, git))
        except BudgetExceeded as exc:
            with run.state.transaction():
                run.audit(step="diagnose", decision="refused", reason=exc.message, issue_id=issue_id, details={"rule": exc.rule})
                if issue["status"] in ("detected", "diagnosed"):
                    move(run.state, issue_id, "needs_human", step="diagnose", reason=exc.message, run_id=run.run_id)
            result.refused.append({"id": issue_id, "reason": exc.message, "rule": exc.rule})
        except StepFailed as exc:
            run.audit(step="diagnose", decision="failed", reason=exc.message, issue_id=issue_id, details={"provider": provider})
            result.failed.append({"id": issue_id, "reason": exc.message})
    return result


def _git(run: Run) -> Any:
    from agent_cli.gitrepo import GitError, GitRepo

    try:
        return GitRepo.of(run.settings)
    except GitError:
        return None


def _diagnose_one(run: Run, issue: dict[str, Any], provider: str, git: Any) -> dict[str, Any]:
    settings, state = run.settings, run.state
    ctx = build_context(settings.repo_path, issue["events"])
    suspects: list[dict[str, Any]] = []
    if git is not None:
        production = settings.environments.get("production")
        rev = (production and git.resolve(production.branch)) or "HEAD"
        suspects = find_suspects(git, culprit=ctx.culprit, files=ctx.files, since_days=settings.diagnose.suspect_window_days, rev=rev)
    top = suspects[0] if suspects else None
    cost, model, note = 0.0, None, None
    answer: DiagnosisAnswer | None = None
    if provider == "anthropic" and run.llm_down and settings.llm.on_failure == "offline":
        # This run already found the API unusable: no more calls.
        provider, note = "offline", fall_back(run, issue_id=issue["id"], step="diagnose", exc=None, instead="offline analysis")
    if provider == "anthropic":
        prompt = redact(diagnosis_prompt(issue, ctx.as_dict(), suspects), emails=settings.diagnose.redact_emails)
        try:
            answer, cost = ToolCaller(settings, state, run_id=run.run_id).ask(
                issue_id=issue["id"], step="diagnose", system=SYSTEM, prompt=prompt, tool=REPORT_DIAGNOSIS, answer=DiagnosisAnswer
            )
            model = settings.llm.model
        except (LLMUnavailable, BudgetExceeded) as exc:
            if settings.llm.on_failure != "offline":
                raise
            provider, note = "offline", fall_back(run, issue_id=issue["id"], step="diagnose", exc=exc, instead="offline analysis")
    if answer is None:
        answer = analyse(ctx.as_dict(), top, revert_max_age_h=settings.fix.revert_max_age_h)
    culprit_path = ctx.culprit["path"] if ctx.culprit else None
    final, adjustments = adjust(
        answer.confidence,
        family_fixed=_family_fixed(run, issue, culprit_path),
        culprit_path=culprit_path,
        affected_files=answer.affected_files,
        estimated_minutes=answer.estimated_fix_minutes,
    )
    record = {
        "issue_id": issue["id"],
        "provider": provider,
        "provider_note": note,
        "model": model,
        "root_cause": answer.root_cause,
        "affected_files": answer.affected_files,
        "fix_strategy": answer.fix_strategy,
        "provider_confidence": answer.confidence,
        "confidence": final,
        "adjustments": adjustments,
        "requires_human_approval": answer.requires_human_approval,
        "estimated_fix_minutes": answer.estimated_fix_minutes,
        "culprit": ctx.culprit or {},
        "suspect_commit": top or {},
        "cost_usd": round(cost, 6),
    }
    with state.transaction():
        diagnosis_id = diagnoses.insert(
            state, issue_id=issue["id"], provider=provider, provider_note=note, model=model, root_cause=answer.root_cause,
            affected_files=answer.affected_files, fix_strategy=answer.fix_strategy, provider_confidence=answer.confidence, confidence=final,
            adjustments=adjustments, requires_human_approval=answer.requires_human_approval, estimated_fix_minutes=answer.estimated_fix_minutes,
            culprit=ctx.culprit or {}, suspect_commit=top or {}, cost_usd=cost, context=ctx.as_dict(), created_at=utcnow(),
        )
        if issue["status"] in ("detected", "needs_human", "rolled_back"):  # a committed fix is never downgraded by a new diagnosis
            move(state, issue["id"], "diagnosed", step="diagnose", reason=f"diagnosed by {provider}", run_id=run.run_id)
        run.audit(
            step="diagnose", decision="diagnosed", issue_id=issue["id"],
            reason=f"{provider}{f' ({note})' if note else ''}: confidence {answer.confidence:.2f} -> {final:.2f}; {answer.root_cause[:200]}",
            details={"diagnosis_id": diagnosis_id, "adjustments": adjustments, "suspect": (top or {}).get("sha"), "cost_usd": cost},
        )
    return {"id": diagnosis_id, **record}


def _family_fixed(run: Run, issue: dict[str, Any], culprit_path: str | None) -> int:
    """Earlier issues of the same family (exception type and culprit file) fixed without a rollback."""
    if not issue.get("exception_type"):
        return 0
    return diagnoses.family_fixed(run.state, issue["id"], issue["exception_type"], culprit_path)
