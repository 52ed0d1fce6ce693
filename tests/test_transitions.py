"""The one place issue status changes: legal moves audited with the move, illegal ones refused and audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_cli import audit, transitions
from agent_cli.errors import PolicyRefused
from agent_cli.state import State, utcnow


@pytest.fixture
def state(tmp_path: Path):
    with State.open(tmp_path / "state.db") as s:
        with s.transaction() as db:
            db.execute(
                "INSERT INTO issues(id, fingerprint, fingerprint_version, title, severity, severity_rule, status, first_seen, last_seen, updated_at) "
                "VALUES (1, 'fp', 1, 't', 'P2', 'r', 'fix_ready', ?, ?, ?)", [utcnow(), utcnow(), utcnow()])
        yield s


def status(state: State) -> str:
    return state.db.execute("SELECT status FROM issues WHERE id = 1").fetchone()[0]


def test_a_legal_move_changes_status_and_audits_from_and_to(state: State) -> None:
    assert transitions.move(state, 1, "needs_human", step="test", reason="because") == "fix_ready"
    assert status(state) == "needs_human"
    last = audit.timeline(state, 1)[-1]
    assert last["decision"] == "status:needs_human" and '"from": "fix_ready"' in last["details"]


def test_an_illegal_move_is_refused_audited_and_changes_nothing(state: State) -> None:
    transitions.move(state, 1, "ignored", step="test", reason="noise")
    with pytest.raises(PolicyRefused) as refused:
        transitions.move(state, 1, "fix_ready", step="test", reason="sneak")
    assert refused.value.rule == "issue.transition"
    assert status(state) == "ignored"
    assert audit.timeline(state, 1)[-1]["decision"] == "transition-refused"  # kept although the move raised
    assert audit.verify(state).ok


def test_a_move_inside_a_failing_transaction_rolls_back_with_its_audit(state: State) -> None:
    before = len(audit.timeline(state, 1))
    with pytest.raises(RuntimeError):
        with state.transaction():
            transitions.move(state, 1, "resolved", step="test", reason="x")
            raise RuntimeError("the step failed after the move")
    assert status(state) == "fix_ready" and len(audit.timeline(state, 1)) == before


def test_the_table_covers_every_status_and_only_known_ones() -> None:
    from agent_cli.state import ISSUE_STATUSES

    assert set(transitions.ALLOWED) == set(ISSUE_STATUSES)
    assert all(targets <= set(ISSUE_STATUSES) for targets in transitions.ALLOWED.values())


def test_no_module_but_transitions_writes_issue_status() -> None:
    # The statement lives in store/issues.py (set_status); transitions.py is the one module that calls it.
    root = Path(__file__).resolve().parents[1] / "agent_cli"
    writers = [str(p.relative_to(root)) for p in root.rglob("*.py")
               if re.search(r"UPDATE issues SET[^\"']*\bstatus\s*=", p.read_text()) and str(p.relative_to(root)) != "store/issues.py"]
    assert writers == []
    callers = [str(p.relative_to(root)) for p in root.rglob("*.py")
               if re.search(r"issues\.set_status\b|store\.issues import[^\n]*\bset_status\b", p.read_text()) and p.name != "transitions.py"]
    assert callers == []
