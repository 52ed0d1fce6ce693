"""`agent demo`: the whole loop offline on the bundled shop, as `make demo` runs it on a fresh machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Project


def test_demo_fixes_a_bug_to_production_and_rolls_back_a_bad_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_cli.demo import run_demo

    for name in ("STAGING_PORT", "PRODUCTION_PORT", "DEPLOY_ROOT"):
        monkeypatch.delenv(name, raising=False)
    said: list[str] = []
    keep = tmp_path / "demo"
    summary = run_demo(said.append, keep=keep)
    text = "\n".join(said)
    one, two = summary["scenario_1"], summary["scenario_2"]
    assert one["issue"]["status"] == "resolved" and one["production_status"] == 200
    assert two["issue"]["status"] == "rolled_back" and two["staging_health"] == 200 and two["production_touched"] is False
    assert "deployed to staging" in text and "deployed to production" in text and "3 failed samples in a row" in text
    assert "Fixes shipped to production" in text and summary["report"]["incidents"]  # ends with the report
    # The apps it started are gone, and nothing of the agent's own keys or network was needed.
    from agent_cli.demo.setup import get

    ports = [int(w.split(":")[1].rstrip(",)")) for w in said[0].split() if w.startswith(":")]
    assert ports and all(get(f"http://127.0.0.1:{p}/health", timeout=1) is None for p in ports)
    assert (keep / "shop" / ".agent" / "state.db").is_file()  # --keep keeps it


def test_demo_refuses_a_directory_that_is_not_empty(project: Project, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    result = project.cli("demo", "--keep", str(busy))
    assert result.exit_code == 2 and "must be empty" in result.stderr
    assert (busy / "file").read_text() == "x"
