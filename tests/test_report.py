"""`agent report` and its metrics, on real state files.

Two kinds of state: a history written with a controlled clock through the project's own writers (deployment records and
moves, samples, incidents, issue transitions, the audit chain; issues, fixes and LLM calls as their steps insert them),
so every number has a known answer; and one built by the real steps (scan, diagnose, fix, deploy, verify) against the
demo shop on 127.0.0.1, checked against what the test did.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agent_cli import audit, transitions
from agent_cli.release import records
from agent_cli.release.states import move_deployment
from agent_cli.report import build_report, metrics, render, windows
from agent_cli.state import State
from tests.conftest import Project

ATTACK = "KeyError: '<script>alert(\"owned\")</script>' & <img src=x onerror=alert(1)>"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
H = 3600.0


# --- a history with known times -----------------------------------------------------------------------------------


class History:
    """Writes state rows at chosen times: while open, the writers' clock (utcnow) is the test's."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.clock = NOW
        self._n = 0
        self._patch = pytest.MonkeyPatch()

    def __enter__(self) -> "History":
        for module in ("agent_cli.audit", "agent_cli.transitions", "agent_cli.release.records", "agent_cli.release.states"):
            self._patch.setattr(f"{module}.utcnow", lambda: self.clock.isoformat(timespec="microseconds"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()

    def at(self, when: datetime) -> "History":
        self.clock = when
        return self

    def issue(self, title: str, first_seen: datetime, *, severity: str = "P2", exception_type: str | None = "KeyError", count: int = 5,
              users: int = 2) -> int:
        self._n += 1
        with self.state.transaction() as db:
            cur = db.execute(
                "INSERT INTO issues(fingerprint, fingerprint_version, title, exception_type, severity, severity_rule, status, count, "
                "first_seen, last_seen, affected_users, updated_at) VALUES (?, 1, ?, ?, ?, 'test', 'detected', ?, ?, ?, ?, ?)",
                [f"fp{self._n}", title, exception_type, severity, count, first_seen.isoformat(), first_seen.isoformat(), users,
                 first_seen.isoformat()],
            )
            return int(cur.lastrowid or 0)

    def fix(self, issue_id: int, created: datetime, *, status: str = "committed", evidence: str | None = "regression_test",
            files: list[str] | None = None) -> int:
        self._n += 1
        sha = hashlib.sha1(str(self._n).encode()).hexdigest() if status in ("committed", "superseded") else None
        with self.state.transaction() as db:
            cur = db.execute(
                "INSERT INTO fixes(issue_id, attempt, created_at, strategy, status, branch, sha, summary, files, evidence) "
                "VALUES (?, 1, ?, 'guard', ?, ?, ?, ?, ?, ?)",
                [issue_id, created.isoformat(), status, f"agent/fix-{issue_id}-{self._n}", sha, f"guard issue {issue_id}",
                 json.dumps(files or ["app/views.py"]), evidence],
            )
            return int(cur.lastrowid or 0)

    def deploy(self, issue_id: int, fix_id: int, env: str, live: datetime, *, verify_s: float = 600, outcome: str = "healthy",
               before: float | None = 0.05, after: list[float] | None = None) -> int:
        fix_sha = self.state.rows("SELECT sha FROM fixes WHERE id = ?", [fix_id])[0]["sha"]
        self.at(live - timedelta(seconds=30))
        dep = records.create(self.state, kind="deploy", env=env, branch=env, remote="origin", issue_id=issue_id, fix_id=fix_id, fix_sha=fix_sha,
                             previous_sha="0" * 40, baseline={"error_rate": before, "events": 5, "lines": 100, "baseline_s": 60}, run_id="t")
        self.at(live)
        move_deployment(self.state, dep, "monitoring", step="deploy", reason="live", run_id="t",
                        fields={"live_at": live.isoformat(), "sha": f"{dep:040x}"})
        for k, rate in enumerate(after if after is not None else [0.0, 0.0, 0.0]):
            self.at(live + timedelta(seconds=verify_s * (k + 1) / 4))
            checks = [{"check": "error_rate", "verdict": "successful", "detail": f"rate {rate}", "numbers": {"rate": rate}}]
            records.add_sample(self.state, dep, "successful", checks)
        self.at(live + timedelta(seconds=verify_s))
        move_deployment(self.state, dep, outcome, step="verify", reason=f"test: {outcome}", run_id="t")
        return dep

    def resolve(self, issue_id: int, when: datetime) -> None:
        self.at(when)
        with self.state.transaction() as db:
            db.execute("UPDATE issues SET resolved_at = ? WHERE id = ?", [when.isoformat(), issue_id])
            transitions.move(self.state, issue_id, "resolved", step="verify", reason="fix verified healthy in production")

    def ship(self, issue_id: int, fixed: datetime, evidence: str | None, resolved_after: float, **deploy: Any) -> int:
        """A committed fix at `fixed`, healthy on staging, then production, the issue resolved `resolved_after` s after first seen."""
        fix = self.fix(issue_id, fixed, evidence=evidence)
        self.deploy(issue_id, fix, "staging", fixed + timedelta(minutes=5), **deploy)
        self.deploy(issue_id, fix, "production", fixed + timedelta(minutes=20), **deploy)
        first = datetime.fromisoformat(self.state.rows("SELECT first_seen FROM issues WHERE id = ?", [issue_id])[0]["first_seen"])
        self.resolve(issue_id, first + timedelta(seconds=resolved_after))
        return fix

    def llm(self, issue_id: int | None, when: datetime, cost: float, tokens_in: int = 100, tokens_out: int = 50) -> None:
        with self.state.transaction() as db:
            db.execute("INSERT INTO llm_calls(ts, issue_id, step, model, input_tokens, output_tokens, cost_usd, outcome) "
                       "VALUES (?, ?, 'diagnose', 'claude', ?, ?, ?, 'ok')", [when.isoformat(), issue_id, tokens_in, tokens_out, cost])


def build_history(state: State, now: datetime = NOW) -> dict[str, int]:
    """The week before `now` and the week before that, with every number the tests assert on."""
    with History(state) as h:
        return _write_history(h, state, now)


def _write_history(h: History, state: State, now: datetime) -> dict[str, int]:
    d = timedelta(days=1)
    ids: dict[str, int] = {}
    # This week: four issues resolved 1h, 2h, 3h and 4h after first seen; one that needed a person.
    ids["a"] = h.issue(ATTACK, now - 6 * d, severity="P1")
    ids["b"] = h.issue("KeyError: 'sku'", now - 5 * d)
    ids["c"] = h.issue("TypeError: NoneType", now - 4 * d, exception_type="TypeError")
    ids["d"] = h.issue("TypeError: int + str", now - 3 * d, exception_type="TypeError", severity="P3")
    ids["e"] = h.issue("ValueError: bad date", now - 2 * d, exception_type="ValueError", severity="P0")
    h.ship(ids["a"], now - 6 * d + timedelta(minutes=30), "regression_test", 1 * H, before=0.10, after=[0.01, 0.03])
    h.ship(ids["b"], now - 5 * d + timedelta(minutes=30), "regression_test", 2 * H)
    h.fix(ids["c"], now - 4 * d + timedelta(minutes=10), status="failed", evidence=None)  # a first attempt that failed validation
    h.ship(ids["c"], now - 4 * d + timedelta(minutes=30), "related_failure_fixed", 3 * H)
    # d: a first fix (20 min after) that broke staging and was rolled back, so replaced; the second one shipped.
    bad = h.fix(ids["d"], now - 3 * d + timedelta(minutes=20), status="superseded", evidence="none", files=["app/db.py"])
    rolled = h.deploy(ids["d"], bad, "staging", now - 3 * d + timedelta(minutes=25), verify_s=300, outcome="rolled_back", after=[0.5])
    h.at(now - 3 * d + timedelta(minutes=26))
    records.add_incident(state, deployment_id=rolled, issue_id=ids["d"], env="staging", path="/tmp/incident.md",
                         body=f"# Incident: deploy {rolled} to staging rolled back\n\n- Issue: #{ids['a']} {ATTACK} (P1)\n")
    h.ship(ids["d"], now - 3 * d + timedelta(minutes=30), "none", 4 * H)
    h.fix(ids["e"], now - 2 * d + timedelta(minutes=10), status="failed", evidence=None)
    h.fix(ids["e"], now - 2 * d + timedelta(minutes=11), status="dry_run", evidence=None)  # shows a diff, ships nothing: no attempt
    h.at(now - 2 * d + timedelta(minutes=12))
    transitions.move(state, ids["e"], "needs_human", step="fix", reason="no valid fix after 2 attempts")
    transitions.move(state, ids["e"], "needs_human", step="fix", reason="still no valid fix")  # one issue, counted once
    h.at(now - 1 * d)
    audit.record(state, step="scan", decision="reopened", reason="regression: resolved issue seen again", issue_id=ids["b"])
    # Still being watched: not decided, so in no rate.
    watching = h.fix(ids["e"], now - timedelta(hours=2), evidence="regression_test")
    h.at(now - timedelta(hours=1))
    records.create(state, kind="deploy", env="staging", branch="staging", remote="origin", issue_id=ids["e"], fix_id=watching, fix_sha=None,
                   previous_sha=None, baseline={}, run_id="t")
    h.at(now - timedelta(hours=3))
    records.create(state, kind="rollback", env="production", branch="main", remote="origin", issue_id=None, fix_id=None, fix_sha=None,
                   previous_sha=None, baseline={}, run_id="t", status="deploying")
    h.llm(ids["a"], now - 6 * d, 0.10)
    h.llm(ids["a"], now - 6 * d + timedelta(minutes=1), 0.10)
    h.llm(ids["b"], now - 5 * d, 0.20)
    h.llm(ids["e"], now - 2 * d, 0.40)
    # The week before: one issue resolved after 10h; and an LLM call for a (counted in what resolving a cost).
    ids["f"] = h.issue("KeyError: 'old'", now - 10 * d)
    h.ship(ids["f"], now - 10 * d + timedelta(hours=1), "regression_test", 10 * H)
    h.llm(ids["a"], now - 9 * d, 0.05)
    h.at(now - 9 * d)
    records.add_incident(state, deployment_id=None, issue_id=ids["f"], env="production", path=None or "", body="# Incident: last week\n")
    return ids


@pytest.fixture
def history(tmp_path: Path) -> Iterator[tuple[State, dict[str, int]]]:
    state = State.open(tmp_path / "state.db")
    try:
        yield state, build_history(state)
    finally:
        state.close()


# --- the numbers --------------------------------------------------------------------------------------------------


def test_metrics_of_a_known_week(history: tuple[State, dict[str, int]]) -> None:
    state, _ = history
    m = metrics(state, "week", now=NOW)
    cur = m["current"]
    assert m["period"] == "week" and m["has_data"]
    assert cur["window"] == {"start": (NOW - timedelta(days=7)).isoformat(), "end": NOW.isoformat()}
    assert cur["issues"] == {"detected": 5, "auto_fixed": 4, "needs_human": 1}
    # a, b, c, d committed; d's first fix superseded (committed, then replaced); c's and e's failed; e's dry run is no attempt.
    assert cur["fixes"] == {"attempted": 8, "committed": 6, "success_rate": 0.75}
    dep = cur["deployments"]
    # 4 issues x (staging + production) healthy, d's first fix rolled back on staging; e's staging deploy still deploying.
    assert (dep["decided"], dep["healthy"], dep["rolled_back"]) == (9, 8, 1)
    assert dep["success_rate"] == round(8 / 9, 4) and dep["rollback_rate"] == round(1 / 9, 4)
    assert dep["rollbacks_by_hand"] == 1
    assert cur["incidents_prevented"] == {"total": 2, "staging_rollbacks": 1, "regressions_caught": 1}
    # MTTR 1h, 2h, 3h, 4h: median 2.5h; p90 by linear interpolation 3h + 0.7h.
    assert cur["times"]["mttr"] == {"n": 4, "median_s": 2.5 * H, "p90_s": 3.7 * H}
    # First committed fix per issue: 30 min after first seen for a, b, c; 20 min for d (its superseded fix), e's at 46h.
    assert cur["times"]["time_to_fix"] == {"n": 5, "median_s": 1800.0, "p90_s": round(0.4 * 1800 + 0.6 * 46 * H, 3)}
    # 8 healthy windows of 600 s and one rollback after 300 s.
    assert cur["times"]["time_to_verify"] == {"n": 9, "median_s": 600.0, "p90_s": 600.0}
    # The week's calls: 0.10 + 0.10 + 0.20 + 0.40; what the 4 resolved issues cost, whenever spent: a 0.25, b 0.20.
    assert cur["llm"] == {"calls": 4, "cost_usd": 0.8, "input_tokens": 400, "output_tokens": 200, "resolved_issues": 4,
                          "cost_per_resolved_usd": 0.1125, "tokens_per_resolved": 150.0}
    assert cur["top_issue_types"] == [{"type": "KeyError", "count": 2}, {"type": "TypeError", "count": 2}, {"type": "ValueError", "count": 1}]
    assert cur["evidence_mix"] == {"none": 1, "regression_test": 2, "related_failure_fixed": 1}


def test_previous_period_beside_it(history: tuple[State, dict[str, int]]) -> None:
    state, _ = history
    prev = metrics(state, "week", now=NOW)["previous"]
    assert prev["window"] == {"start": (NOW - timedelta(days=14)).isoformat(), "end": (NOW - timedelta(days=7)).isoformat()}
    assert prev["issues"] == {"detected": 1, "auto_fixed": 1, "needs_human": 0}
    assert prev["fixes"] == {"attempted": 1, "committed": 1, "success_rate": 1.0}
    assert (prev["deployments"]["decided"], prev["deployments"]["healthy"]) == (2, 2)
    assert prev["times"]["mttr"] == {"n": 1, "median_s": 10 * H, "p90_s": 10 * H}
    assert prev["llm"]["calls"] == 1 and prev["llm"]["cost_usd"] == 0.05
    assert prev["incidents_prevented"]["total"] == 0


def test_all_has_no_previous_and_counts_everything(history: tuple[State, dict[str, int]]) -> None:
    state, _ = history
    m = metrics(state, "all", now=NOW)
    assert m["previous"] is None and m["current"]["window"]["start"] is None
    assert m["current"]["issues"]["detected"] == 6 and m["current"]["issues"]["auto_fixed"] == 5
    assert m["current"]["times"]["mttr"]["n"] == 5 and m["current"]["times"]["mttr"]["median_s"] == 3 * H


def test_day_and_month_windows(history: tuple[State, dict[str, int]]) -> None:
    state, _ = history
    day = metrics(state, "day", now=NOW)
    assert day["current"]["issues"]["detected"] == 0 and day["current"]["incidents_prevented"]["regressions_caught"] == 1
    assert day["previous"]["issues"]["detected"] == 1 and day["previous"]["issues"]["needs_human"] == 1  # e, at the previous start
    month = metrics(state, "month", now=NOW)
    assert month["current"]["issues"]["detected"] == 6 and month["previous"]["issues"]["detected"] == 0


def test_period_boundaries_start_inclusive_end_exclusive_and_offsets_compared_as_times(tmp_path: Path) -> None:
    with State.open(tmp_path / "state.db") as state, History(state) as h:
        week = timedelta(days=7)
        h.issue("at the start", NOW - week)
        h.issue("at the end", NOW)
        h.issue("at the previous start", NOW - 2 * week)
        h.issue("just before the previous start", NOW - 2 * week - timedelta(milliseconds=1))  # SQLite's times are to the millisecond
        # 13:00 at +02:00 is 11:00 UTC: one hour before the end, inside the window (as text it would sort after it).
        h.issue("offset", datetime(2026, 3, 15, 13, 0, tzinfo=timezone(timedelta(hours=2))))
        h.issue("after the end", datetime(2026, 3, 15, 12, 30, tzinfo=timezone.utc))
        m = metrics(state, "week", now=NOW)
        assert m["current"]["issues"]["detected"] == 2  # at the start, offset
        assert m["previous"]["issues"]["detected"] == 1  # at the previous start
        assert metrics(state, "all", now=NOW)["current"]["issues"]["detected"] == 4  # not the ones at and after `now`
    with pytest.raises(ValueError):
        windows("year", NOW)


# --- the executive part -------------------------------------------------------------------------------------------


def test_report_lists_each_fix_shipped_with_its_verification(history: tuple[State, dict[str, int]], tmp_path: Path) -> None:
    from agent_cli.config import load_settings

    state, ids = history
    (tmp_path / "agent.toml").write_text('[agent]\nrepo = "."\n')
    settings = load_settings(tmp_path / "agent.toml", require_repo=False)
    r = build_report(state, settings, "week", now=NOW)
    assert [s["issue"]["id"] for s in r["fixes_shipped"]] == [ids["a"], ids["b"], ids["c"], ids["d"]]
    a = r["fixes_shipped"][0]
    assert a["issue"]["title"] == ATTACK and a["impact"] == {"events": 5, "affected_users": 2, "regressions": 0}
    assert a["fix"]["files"] == ["app/views.py"] and len(a["fix"]["commit"]) == 40 and a["fix"]["evidence"] == "regression_test"
    assert [(v["env"], v["status"], v["error_rate_before"], v["error_rate_after"], v["samples"]) for v in a["verification"]] == [
        ("staging", "healthy", 0.10, 0.02, 2), ("production", "healthy", 0.10, 0.02, 2)]
    d = r["fixes_shipped"][3]
    assert [v["status"] for v in d["verification"]] == ["healthy", "healthy"]  # the rolled-back first fix is another fix
    assert [i["env"] for i in r["incidents"]] == ["staging"] and ATTACK in r["incidents"][0]["body"]  # last week's is not in this week
    charts = r["charts"]
    assert len(charts["labels"]) == 7 and charts["bucket_s"] == 86400
    assert [sum(v) for v in charts["issues_by_severity"].values()] == [1, 1, 2, 1, 0]  # P0 e, P1 a, P2 b c, P3 d
    assert sum(charts["deployments"]["rolled_back"]) == 1 and sum(charts["deployments"]["healthy"]) == 8
    assert sum(charts["deployments"]["rollbacks"]) == 1
    assert sorted(v for v in charts["mttr_median_h"] if v is not None) == [1.0, 2.0, 3.0, 4.0]


# --- the command ------------------------------------------------------------------------------------------------


@pytest.fixture
def reported(project: Project) -> Project:
    """The project's own state file with the history, ending now (the command reports up to the real time)."""
    with State.open(project.state) as state:
        build_history(state, now=datetime.now(timezone.utc) - timedelta(minutes=1))
    return project


def _dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_text_report_is_the_default_and_reads_only(reported: Project) -> None:
    before = _dump(reported.state)
    result = reported.cli("report")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Period: week" in out and "Issues detected" in out
    assert re.search(r"Issues detected\s+5\s+\[1\]", out)
    assert re.search(r"MTTR median / p90\s+2h 30m / 3h 42m \(n=4\)\s+\[10h 00m / 10h 00m \(n=1\)\]", out)
    assert re.search(r"Deployment success rate \(healthy / decided\)\s+89% \(8/9\)", out)
    assert "app/views.py" in out and "staging healthy: error rate 10.00% before, 2.00% after (2 samples)" in out
    assert _dump(reported.state) == before  # nothing written, not even an audit record


def test_markdown_report(reported: Project) -> None:
    result = reported.cli("report", "--format", "markdown", "--period", "month")
    assert result.exit_code == 0, result.stderr
    md = result.stdout
    assert md.startswith("# agent report") and "| metric | this period | previous period |" in md
    assert "| Issues detected | 6 | 0 |" in md
    assert "| staging | healthy | 10.00% | 2.00% | 2 |" in md
    assert "<script" not in md and "<img" not in md and "&lt;script&gt;" in md
    assert "#### Incident: deploy" in md  # the incident's own heading sits under the report's


def test_json_format_and_global_json_flag_give_the_same_dict(reported: Project) -> None:
    by_format = reported.cli("report", "--format", "json")
    by_flag = reported.cli("--json", "report")
    assert by_format.exit_code == by_flag.exit_code == 0
    a, b = json.loads(by_format.stdout), json.loads(by_flag.stdout)
    for data in (a, b):
        assert data["current"]["issues"]["detected"] == 5 and data["previous"]["issues"]["detected"] == 1
        assert len(data["fixes_shipped"]) == 4 and data["fixes_shipped"][0]["issue"]["title"] == ATTACK
    assert {k: v for k, v in a["current"].items() if k != "window"} == {k: v for k, v in b["current"].items() if k != "window"}


def test_output_writes_the_file_and_prints_its_path(reported: Project, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    result = reported.cli("report", "--format", "html", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(target.resolve())
    assert target.read_text().startswith("<!DOCTYPE html>")
    as_json = reported.cli("--json", "report", "--format", "markdown", "--output", str(tmp_path / "r.md"))
    assert as_json.json() == {"output": str((tmp_path / "r.md").resolve()), "format": "markdown", "period": "week"}
    assert (tmp_path / "r.md").read_text().startswith("# agent report")


def test_bad_options_and_missing_state_are_usage_errors(project: Project) -> None:
    for args in (["--period", "year"], ["--format", "pdf"]):
        result = project.cli("report", *args)
        assert result.exit_code == 2 and "must be one of" in result.stderr and result.stdout == ""
    project.state.unlink()
    result = project.cli("report")
    assert result.exit_code == 2 and "no state file" in result.stderr
    assert not project.state.exists()  # a report never creates the state


def test_empty_state_says_no_data_in_every_format(project: Project) -> None:
    for fmt, marker in (("text", "No data for this period"), ("markdown", "No data for this period"), ("html", "No data for this period")):
        result = project.cli("report", "--format", fmt, "--period", "all")
        assert result.exit_code == 0, result.stderr
        assert marker in result.stdout
    data = project.cli("--json", "report").json()
    assert data["has_data"] is False and data["fixes_shipped"] == [] and data["current"]["times"]["mttr"]["median_s"] is None
    assert data["current"]["fixes"]["success_rate"] is None


def test_terminal_escapes_in_log_text_do_not_reach_the_text_report(project: Project) -> None:
    with State.open(project.state) as state, History(state) as h:
        issue = h.issue("boom \x1b]0;pwned\x07\x1b[2J title", datetime.now(timezone.utc) - timedelta(days=1))
        h.ship(issue, datetime.now(timezone.utc) - timedelta(hours=20), "regression_test", 5 * H)
    for fmt in ("text", "markdown"):
        out = project.cli("report", "--format", fmt).stdout
        assert "\x1b" not in out and "boom" in out and "title" in out


# --- HTML: escaped, self-contained, seen by a real browser ---------------------------------------------------------


def _html(reported: Project, tmp_path: Path) -> Path:
    target = tmp_path / "report.html"
    result = reported.cli("report", "--format", "html", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    return target


def test_html_escapes_titles_from_log_text(reported: Project, tmp_path: Path) -> None:
    html = _html(reported, tmp_path).read_text()
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower() and "onerror=alert" not in html.replace("&lt;img src=x onerror=alert", "")


class _Fetches(HTMLParser):
    """Every tag, and every attribute or stylesheet text that could make a browser fetch or run something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.fetching: list[str] = []
        self.css = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name in ("src", "srcset", "data", "action", "formaction", "poster", "background") or name.startswith("on"):
                self.fetching.append(f"{tag} {name}={value}")
            if name in ("href", "xlink:href") and not v.startswith("#"):
                self.fetching.append(f"{tag} {name}={value}")
            if name == "style" and ("url(" in v or "@import" in v):
                self.fetching.append(f"{tag} style={value}")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css += data


def test_html_is_self_contained(reported: Project, tmp_path: Path) -> None:
    html = _html(reported, tmp_path).read_text()
    found = _Fetches()
    found.feed(html)
    assert found.tags & {"script", "link", "iframe", "object", "embed", "img", "image", "use", "foreignobject", "audio", "video", "base"} == set()
    assert found.fetching == []
    assert "@import" not in found.css and "@font-face" not in found.css
    assert all(u.startswith(("#", "data:")) for u in re.findall(r"url\(\s*['\"]?([^'\")]*)", found.css))
    assert "svg" in found.tags and html.count("<svg") == 3  # issues by severity, MTTR, deployments: inline SVG
    assert "default-src 'none'" in html  # and the page itself forbids any fetch or script


def test_self_contained_check_sees_a_fetch() -> None:
    found = _Fetches()
    found.feed('<p>&lt;img src=x&gt;</p><svg><image href="http://127.0.0.1/x.png"/></svg><div style="background:url(http://x)"></div>')
    assert found.tags >= {"image"} and len(found.fetching) == 2  # the escaped text is text, not a tag


def _png_colours(path: Path) -> int:
    """Distinct RGB(A) pixels in an 8-bit truecolour PNG (what chromium writes), decoded here with zlib alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, colours = bytearray(stride), set()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - bpp] if i >= bpp else 0, prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp * 7))  # every 7th pixel is plenty
        prev = line
    return len(colours)


def _chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,2000", "--enable-logging=stderr", "--v=0",
         *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


def _console(p: subprocess.CompletedProcess[str]) -> list[str]:
    """What the page said on the console: a page that runs no script says nothing unless something was refused or broke."""
    return [line for line in p.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it with apt-get)")


@needs_chromium
def test_console_check_catches_a_page_that_breaks(tmp_path: Path) -> None:
    """The browser check can fail: a page with a script (refused by the report's policy) and a network image."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head>"
                    "<body><p>x</p><script>console.error('boom')</script><img src='http://127.0.0.1:9/x.png'></body></html>")
    p = _chromium(page, tmp_path, f"--screenshot={tmp_path / 'bad.png'}")
    assert len(_console(p)) >= 2, p.stderr


@needs_chromium
def test_html_report_renders_in_headless_chromium(reported: Project, tmp_path: Path) -> None:
    page = _html(reported, tmp_path)
    shot = tmp_path / "shot.png"
    p = _chromium(page, tmp_path, f"--screenshot={shot}")
    assert p.returncode == 0, p.stderr[-2000:]
    assert _console(p) == [], _console(p)
    assert shot.exists() and shot.stat().st_size > 10_000
    assert _png_colours(shot) > 20  # text, cards, bars in five severities: not a blank page
    dom = _chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and _console(dom) == []
    assert dom.stdout.count("<svg") == 3 and "Fixes shipped to production" in dom.stdout
    assert "&lt;script&gt;alert" in dom.stdout and "<script" not in dom.stdout  # the title is text in the live DOM too


@needs_chromium
def test_empty_html_report_renders_too(project: Project, tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    assert project.cli("report", "--format", "html", "--output", str(page)).exit_code == 0
    shot = tmp_path / "empty.png"
    p = _chromium(page, tmp_path, f"--screenshot={shot}")
    assert p.returncode == 0 and _console(p) == [], p.stderr[-2000:]
    assert _png_colours(shot) > 5


# --- a state built by the real steps ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="the demo's deploy scripts are POSIX sh")
def test_report_of_a_state_built_by_real_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo shop's None-coupon bug: a fix that breaks /health is rolled back on staging, then a good fix goes to
    staging and production and resolves the issue. The report says exactly that."""
    from tests.release_env import DEMO, detect_bug, make_release, ready_fix, shop_fixed

    release = make_release(tmp_path, monkeypatch)
    try:
        cli = release.project.cli
        issue = detect_bug(release)
        ready_fix(release, issue, {"shop.py": (DEMO / "scenarios" / "bad_health.py").read_text()}, "guard the coupon, add a readiness check")
        assert cli("deploy", str(issue)).exit_code == 0
        traffic = release.background("staging", ["/orders/1/total", "/users/1"])
        assert cli("--json", "verify", "--wait").json()["deployments"][0]["phase"] == "rolled_back"
        traffic.stop()
        good = ready_fix(release, issue, {"shop.py": shop_fixed()}, "guard the coupon")
        for env in ("staging", "production"):
            assert cli("deploy", str(issue), "--env", env).exit_code == 0
            traffic = release.background(env, ["/orders/2/total", "/orders/1/total", "/users/1"])
            verified = cli("--json", "verify", "--wait")
            traffic.stop()
            assert verified.json()["deployments"][0]["phase"] == "healthy", verified.stdout
        data = cli("--json", "report", "--period", "day").json()
    finally:
        release.stop()
    cur = data["current"]
    issues = release.state_rows("SELECT * FROM issues")
    assert cur["issues"]["detected"] == len(issues) and cur["issues"]["auto_fixed"] == 1 and cur["issues"]["needs_human"] == 0
    assert cur["fixes"] == {"attempted": 2, "committed": 2, "success_rate": 1.0}  # the first superseded by the second
    assert (cur["deployments"]["decided"], cur["deployments"]["healthy"], cur["deployments"]["rolled_back"]) == (3, 2, 1)
    assert cur["incidents_prevented"] == {"total": 1, "staging_rollbacks": 1, "regressions_caught": 0}
    row = next(i for i in issues if i["id"] == issue)
    mttr = (datetime.fromisoformat(row["resolved_at"]) - datetime.fromisoformat(row["first_seen"])).total_seconds()
    assert cur["times"]["mttr"]["n"] == 1 and cur["times"]["mttr"]["median_s"] == pytest.approx(mttr, abs=0.01)
    assert cur["times"]["time_to_verify"]["n"] == 3
    [shipped] = data["fixes_shipped"]
    assert shipped["issue"]["id"] == issue and shipped["fix"]["commit"] == good and shipped["fix"]["files"] == ["shop.py"]
    assert [(v["env"], v["status"]) for v in shipped["verification"]] == [("staging", "healthy"), ("production", "healthy")]
    assert all(v["samples"] >= 3 for v in shipped["verification"])
    assert shipped["verification"][1]["error_rate_before"] is not None and shipped["verification"][1]["error_rate_after"] is not None
    [incident] = data["incidents"]
    assert incident["env"] == "staging" and "HTTP 503" in incident["body"]
    text = render(data, "text")
    assert re.search(r"Auto-fixed \(verified in production\)\s+1\b", text) and "guard the coupon" in text


def test_templates_are_package_data() -> None:
    """A wheel carries the templates: each file under report/templates matches a package-data glob of pyproject.toml."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["agent_cli"]
    templates = sorted((root / "agent_cli" / "report" / "templates").iterdir())
    assert {t.name for t in templates} == {"report.txt.j2", "report.md.j2", "report.html.j2"}
    for t in templates:
        assert any(fnmatch.fnmatch(t.relative_to(root / "agent_cli").as_posix(), g) for g in globs), t.name
