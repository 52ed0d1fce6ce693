"""A scan survives poison records, partial last lines and rotation: exact counts, no loss, no double count."""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from agent_cli.clock import FakeClock
from tests.conftest import Project

SOURCES = (
    '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'
    '[[sources]]\nname = "other"\nkind = "file"\npaths = ["other/*.log"]\n'
)


def err(n: int, kind: str = "KeyError") -> str:
    return f"2026-11-21 10:00:{n % 60:02d},000 ERROR app.views: lookup failed {kind} n={n}\n"


POISON = {
    "year_below_1000": "0999-11-21 10:00:00,000 ERROR app.views: ancient\n",
    "year_1": '{"ts": "0001-01-01T00:00:00", "level": "error", "msg": "very old"}\n',
    "level_inf": '{"level": 1e999, "msg": "error infinite"}\n',
    "level_nan": '{"level": NaN, "msg": "error nan"}\n',
    "msg_object": '{"level": "error", "msg": {"nested": "error"}, "error": {"type": {"x": 1}}}\n',
    "deep_array": '{"level": "error", "msg": "error deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
}


@pytest.fixture
def dirs(project: Project) -> tuple[Path, Path]:
    logs, other = project.root / "logs", project.root / "other"
    logs.mkdir()
    other.mkdir()
    project.config.write_text(SOURCES)
    return logs, other


def scan(project: Project) -> dict:
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr + r.stdout
    return r.json()


def source_errors(project: Project) -> list[tuple[str, str]]:
    with sqlite3.connect(project.state) as db:
        return db.execute("SELECT source, reason FROM source_errors ORDER BY id").fetchall()


@pytest.mark.parametrize("kind", sorted(POISON))
def test_poison_line_is_reported_once_and_skipped(project: Project, dirs: tuple[Path, Path], kind: str) -> None:
    logs, other = dirs
    (logs / "a.log").write_text(err(1) + POISON[kind] + err(2, "ValueError"))
    (logs / "b.log").write_text(err(3, "TypeError"))
    (other / "c.log").write_text(err(4, "OSError"))
    first = scan(project)
    assert first["sources"]["app"]["events"] == 3 and first["sources"]["other"]["events"] == 1
    assert first["events"] == 4 and first["sources"]["other"]["errors"] == []
    (problem,) = first["sources"]["app"]["errors"]
    assert problem.startswith(f"{logs / 'a.log'}: line 2: record cannot be ") and problem.endswith("; skipped")
    assert sum(i["count"] for i in issues(project)) == 4
    with (logs / "a.log").open("a") as f:
        f.write(err(5))
    second = scan(project)
    assert second["events"] == 1 and second["sources"]["app"]["errors"] == [] and second["sources"]["other"]["events"] == 0
    assert [r for s, r in source_errors(project)] == [problem]


def test_all_poison_at_once_in_one_file_and_real_errors_around(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, other = dirs
    (logs / "a.log").write_text("".join(err(n) + POISON[k] for n, k in enumerate(sorted(POISON))) + err(99))
    (other / "c.log").write_text(POISON["year_below_1000"] + err(4, "OSError"))
    first = scan(project)
    assert first["sources"]["app"]["events"] == len(POISON) + 1 and first["sources"]["other"]["events"] == 1
    assert len(first["sources"]["app"]["errors"]) == len(POISON) and len(first["sources"]["other"]["errors"]) == 1
    assert [e.split(": line ")[1].split(":")[0] for e in first["sources"]["app"]["errors"]] == [str(2 * n + 2) for n in range(len(POISON))]
    assert scan(project)["events"] == 0
    assert len(source_errors(project)) == len(POISON) + 1


def test_a_failure_while_storing_one_issue_keeps_the_rest(project: Project, dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    scan_module = importlib.import_module("agent_cli.detect.scan")
    logs, other = dirs
    (logs / "a.log").write_text(err(1) + err(2, "ValueError") + "2026-11-21 10:00:03,000 ERROR app.db: boom poison\n")
    (other / "c.log").write_text(err(4, "OSError"))
    real = scan_module._upsert_issue

    def upsert(run, fp, events, now, result):  # type: ignore[no-untyped-def]
        real(run, fp, events, now, result)
        if any("poison" in e.message for e in events):
            raise RuntimeError("disk said no")

    monkeypatch.setattr(scan_module, "_upsert_issue", upsert)
    first = scan(project)
    assert first["events"] == 3 and first["sources"]["app"]["events"] == 2 and first["sources"]["other"]["events"] == 1
    (problem,) = first["sources"]["app"]["errors"]
    assert problem == f"{logs / 'a.log'}: line 3: record cannot be stored (RuntimeError: disk said no); skipped"
    assert sorted(i["count"] for i in issues(project)) == [1, 1, 1]
    assert all("poison" not in i["title"] for i in issues(project))
    assert scan(project)["events"] == 0


@pytest.mark.parametrize("special", ["fifo", "device"])
def test_special_files_are_refused_by_path(project: Project, dirs: tuple[Path, Path], tmp_path: Path, special: str) -> None:
    if special == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:
        target = Path("/dev/null")
    r = project.cli("scan", "--dry-run", "--events", "--path", str(target))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "only regular files are read" in r.stderr


def test_a_fifo_matching_the_glob_never_blocks_the_scan(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    os.mkfifo(logs / "pipe.log")
    (logs / "a.log").write_text(err(1))
    assert scan(project)["events"] == 1


def issues(project: Project) -> list[dict]:
    r = project.cli("--json", "issues")
    assert r.exit_code == 0, r.stderr
    return r.json()["issues"]


def age(path: Path, seconds: float = 60) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_final_line_without_newline_is_read_once_settled_and_never_twice(project: Project, dirs: tuple[Path, Path],
                                                                       fake_clock: FakeClock) -> None:
    logs, _ = dirs
    log = logs / "a.log"
    log.write_text(err(1) + err(2, "ValueError").rstrip("\n"))
    fake_clock.advance(log.stat().st_mtime - fake_clock.now().timestamp())  # the scan sees it just written, however busy the machine
    first = scan(project)  # just written: the last line may still be growing
    assert first["events"] == 1 and first["sources"]["app"]["lines"] == 1
    age(log)
    second = scan(project)
    assert second["events"] == 1 and second["sources"]["app"]["lines"] == 0
    assert scan(project)["events"] == 0
    with log.open("a") as f:  # the writer finishes the line, then writes another
        f.write(" and more text\n" + err(3, "TypeError"))
    third = scan(project)
    assert third["events"] == 1 and third["sources"]["app"]["lines"] == 2
    assert sorted(i["count"] for i in issues(project)) == [1, 1, 1]
    assert scan(project)["events"] == 0


def test_dry_run_always_reads_the_final_line(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    (logs / "a.log").write_text(err(1) + err(2, "ValueError").rstrip("\n"))
    r = project.cli("scan", "--dry-run", "--events")
    assert r.exit_code == 0, r.stderr
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [1, 2]
    r = project.cli("scan", "--dry-run", "--events", "--path", str(logs / "a.log"))
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [1, 2]


def test_settled_traceback_without_final_newline_is_one_event(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    log = logs / "a.log"
    log.write_text(
        "2026-11-21 10:00:01,000 ERROR app.views: failed\nTraceback (most recent call last):\n"
        '  File "/app/app/views.py", line 3, in get\n    return x.name\nAttributeError: no name'
    )
    age(log)
    data = scan(project)
    assert data["events"] == 1 and data["sources"]["app"]["lines"] == 4
    (issue,) = issues(project)
    assert issue["title"].startswith("AttributeError")


ROTATING = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["{glob}"]\n'


def counts(project: Project) -> list[int]:
    return sorted(i["count"] for i in issues(project))


@pytest.mark.parametrize("glob", ["logs/app.log", "logs/app.log*"])
def test_lines_appended_just_before_rename_are_read_once(project: Project, dirs: tuple[Path, Path], glob: str) -> None:
    logs, _ = dirs
    project.config.write_text(ROTATING.format(glob=glob))
    log = logs / "app.log"
    log.write_text(err(1) + err(2, "ValueError"))
    assert scan(project)["events"] == 2
    with log.open("a") as f:
        f.write(err(3, "TypeError") + err(4))
    os.rename(log, logs / "app.log.1")
    log.write_text(err(5, "OSError"))
    data = scan(project)
    assert data["events"] == 3 and data["sources"]["app"]["lines"] == 3
    assert counts(project) == [1, 1, 1, 2]
    # a second rotation: app.log.1 -> app.log.2, app.log -> app.log.1, with a line just before
    with log.open("a") as f:
        f.write(err(6, "OSError"))
    os.rename(logs / "app.log.1", logs / "app.log.2")
    os.rename(log, logs / "app.log.1")
    log.write_text("")
    data = scan(project)
    assert data["events"] == 1
    assert counts(project) == [1, 1, 2, 2]
    assert scan(project)["events"] == 0


def test_copytruncate_finishes_the_copy_from_the_old_offset(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    project.config.write_text(ROTATING.format(glob="logs/app.log*"))
    log = logs / "app.log"
    log.write_text(err(1) + err(2, "ValueError"))
    assert scan(project)["events"] == 2
    with log.open("a") as f:
        f.write(err(3, "TypeError"))
    (logs / "app.log.1").write_bytes(log.read_bytes())  # copy ...
    os.truncate(log, 0)  # ... then truncate, same inode
    with log.open("a") as f:
        f.write(err(4, "OSError"))
    data = scan(project)
    assert data["events"] == 2, data
    assert counts(project) == [1, 1, 1, 1]
    assert scan(project)["events"] == 0


def test_copytruncate_with_the_copy_outside_the_glob(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    project.config.write_text(ROTATING.format(glob="logs/*.log"))
    log = logs / "app.log"
    log.write_text(err(1) + err(2, "ValueError"))
    assert scan(project)["events"] == 2
    with log.open("a") as f:
        f.write(err(3, "TypeError"))
    (logs / "app.log.1").write_bytes(log.read_bytes())
    os.truncate(log, 0)
    data = scan(project)
    assert data["events"] == 1
    assert scan(project)["events"] == 0


def test_rotated_name_matching_the_glob_is_never_reread(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    project.config.write_text(ROTATING.format(glob="logs/*.log"))
    log = logs / "app.log"
    log.write_text(err(1) + err(2, "ValueError"))
    assert scan(project)["events"] == 2
    os.rename(log, logs / "app-1.log")
    log.write_text(err(3, "TypeError"))
    data = scan(project)
    assert data["events"] == 1 and data["sources"]["app"]["errors"] == []
    assert scan(project)["events"] == 0
    assert counts(project) == [1, 1, 1]


def test_settle_s_comes_from_the_scan_section_with_a_default_of_two_seconds(project: Project) -> None:
    from agent_cli.config import load_settings
    from agent_cli.detect.scan import settle_seconds

    project.config.write_text(SOURCES)
    assert settle_seconds(load_settings(project.config)) == 2.0
    project.config.write_text("[scan]\nsettle_s = 0.5\n" + SOURCES)
    assert settle_seconds(load_settings(project.config)) == 0.5


def test_a_file_changed_within_settle_s_keeps_its_last_line_back(project: Project, dirs: tuple[Path, Path], fake_clock: FakeClock) -> None:
    logs, _ = dirs
    log = logs / "a.log"
    log.write_text(err(1).rstrip("\n"))
    fake_clock.advance(log.stat().st_mtime - fake_clock.now().timestamp())  # now is the write: 1 s old means 1 s, on any machine
    assert scan(project)["events"] == 0
    age(log, 1)  # changed 1 s ago: below the default 2 s
    assert scan(project)["events"] == 0
    age(log, 5)
    assert scan(project)["events"] == 1
    assert scan(project)["events"] == 0


def test_dry_run_leaves_poison_out_and_shows_the_rest(project: Project, dirs: tuple[Path, Path]) -> None:
    logs, _ = dirs
    (logs / "a.log").write_text("".join(POISON.values()) + err(1))
    r = project.cli("scan", "--dry-run", "--events")
    assert r.exit_code == 0, r.stderr
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [len(POISON) + 1]
