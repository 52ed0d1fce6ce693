"""Grouping v2 (fingerprint version 3): masks per variable class, the template miner, its SQLite state, v1 issues kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent_cli.config import SourceConfig, load_settings
from agent_cli.detect import parallel, record_finder, sources
from agent_cli.detect.events import parse_block
from agent_cli.detect.fingerprint import FINGERPRINT_VERSION, fingerprint, legacy_fingerprint
from agent_cli.detect.masking import template, template_v2
from agent_cli.detect.miner import WILDCARD, TemplateMiner
from agent_cli.detect.scan import Aggregator
from tests.conftest import Project

FILE_SOURCE = '[[sources]]\nname = "app"\nkind = "file"\npaths = ["logs/*.log"]\n'


def line(message: str, level: str = "ERROR", ts: str = "2026-11-21 10:00:01,000") -> str:
    return f"{ts} {level} app.worker: {message}"


def fp(text: str, miner: TemplateMiner | None = None) -> str:
    return fingerprint(parse_block(text, source="app"), miner=miner)[0]


# One case per variable class of issue 10: two lines that differ only in it. v1 split each pair; v2 must not.
MASK_CASES = {
    "block ids with and without a sign": ("Deleting block blk_-6952295868487656571 now", "Deleting block blk_38865049064139660 now"),
    "hex in one line, digits in the next": ("token 3f2a9c expired", "token 392019 expired"),
    "paths with // and hex-looking segments": ("cannot open /mnt/hadoop//dfs/tmp/4c045788/x.meta", "cannot open /srv/data/ab12cd/blk.meta"),
    "bare file names": ("cannot parse workers2.properties", "cannot parse app-7.log.1"),
    "host names": ("lost connection to db-3.prod.internal", "lost connection to cache.example.com"),
    "for user X": ("login refused for user alice", "login refused for user bob"),
    "user=X": ("session expired user=alice", "session expired user=bob.smith"),
    "weekday and month words": ("report for Mon Dec 4 failed", "report for Thursday Jan 12 failed"),
    "version strings": ("plugin 1.2.3 refused to load", "plugin v2.0 refused to load"),
    "X-Forwarded-For lists": ("blocked client 10.0.0.1, 172.16.0.9, 8.8.8.8", "blocked client 192.168.1.4"),
    "UUIDs with a suffix": ("stale entry 3f0c1f7a-aaaa-bbbb-cccc-0123456789ab_del in cache",
                            "stale entry 0a1b2c3d-1111-2222-3333-444455556666_del in cache"),
    "numbers with units": ("upload of 123 B rejected", "upload of 1.2 KB rejected"),
    "durations with units": ("query took 200 ms", "query took 3.5s"),
}


@pytest.mark.parametrize("case", sorted(MASK_CASES))
def test_each_variable_class_is_masked_alike(case: str) -> None:
    a, b = MASK_CASES[case]
    ea, eb = parse_block(line(a), source="app"), parse_block(line(b), source="app")
    assert template(ea.message) != template(eb.message), "v1 kept these apart: the case shows what v2 fixes"
    assert template_v2(ea.message) == template_v2(eb.message)
    assert fp(line(a)) == fp(line(b))  # masks alone, no miner


def test_masks_keep_the_words_that_name_the_bug() -> None:
    assert template_v2("could not connect to server: connection refused") == "could not connect to server: connection refused"
    assert template_v2("disk quota exceeded on /data") == "disk quota exceeded on /data"
    assert template_v2("low disk 5%") == "low disk <num>%"
    assert template_v2("java.lang.IllegalStateException: no stock") == "java.lang.IllegalStateException: no stock"
    assert template_v2("Deleting block blk_-1 file /a/b") == "Deleting block blk_<num> file <path>"
    assert template_v2("stale 3f0c1f7a-aaaa-bbbb-cccc-0123456789ab_del") == "stale <uuid>_del"
    assert template_v2("sent 1.2 KB to 10.0.0.1, 10.0.0.2") == "sent <size> to <ip>"


def test_thread_names_of_any_nesting_and_length_are_stripped_with_the_logger() -> None:
    nested = "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200"
    long = "2015-07-29 17:41:45,001 - INFO  [" + "Worker-pool-" * 9 + "7] - o.a.z.server.NIOServerCnxn: Notification time out: 6400"
    other = "2015-07-29 17:41:46,001 - INFO  [main] Notification time out: 100"
    messages = [parse_block(t, source="app").message for t in (nested, long, other)]
    assert {template_v2(m) for m in messages} == {"Notification time out: <num>"}
    assert len({template(m) for m in messages}) == 3  # v1 kept the thread names in the template
    assert len({fp(t) for t in (nested, long, other)}) == 1


def test_a_level_word_past_column_80_ends_the_header() -> None:
    a = ("2026-11-21 10:00:01,123 host-with-a-very-long-name-01.example.internal [pid 12345] [component:some-subsystem] "
         "ERROR db.pool: connection lost to shard 7")
    b = "2026-11-21 10:00:02,999 node-77.cluster.example.internal [pid 9] [component:another-subsystem-name-x] ERROR db.pool: connection lost to shard 9"
    ea, eb = parse_block(a, source="app"), parse_block(b, source="app")
    assert template_v2(ea.message) == template_v2(eb.message) == "connection lost to shard <num>"
    assert template(ea.message) != template(eb.message)


def test_syslog_headers_and_user_names_from_openssh() -> None:
    lines = ["Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
             "Jan  2 11:05:01 gw-2 sshd[9]: Invalid user test from 10.0.0.7"]
    assert {template_v2(parse_block(t, source="app").message) for t in lines} == {"Invalid user <user> from <ip>"}


def test_the_miner_merges_position_variables() -> None:
    miner = TemplateMiner()
    a = fp(line("chdir(pwd) failed for job queue nightly"), miner)
    b = fp(line("chdir(/p/gb2/stella/RAPTOR/82379) failed for job queue nightly"), miner)
    c = fp(line("Failed password for root from 10.0.0.1 port 22 ssh2"), miner)
    d = fp(line("Failed password for oracle from 10.0.0.9 port 2222 ssh2"), miner)
    assert a == b and c == d and a != c
    templates = sorted(c.template for c in miner.clusters.values())
    assert templates == [f"{WILDCARD} failed for job queue nightly", "Failed password for <*> from <ip> port <num> <id>"]
    # Without the miner the position variables kept them apart.
    assert fp(line("chdir(pwd) failed for job queue nightly")) != fp(line("chdir(/p/gb2/x) failed for job queue nightly"))


def test_different_messages_of_the_same_length_stay_apart() -> None:
    miner = TemplateMiner()
    messages = ["disk quota exceeded on volume", "payment provider rejected the card", "cache warmup finished too late",
                "Failed to open socket on port", "Failed to write journal after crash", "Failed to bind socket to address",
                "lookup failed KeyError n=1", "lookup failed TypeError n=2"]
    assert len({len(m.split()) for m in messages[:3]}) == 1 and len({len(m.split()) for m in messages[3:6]}) == 1
    assert len({fp(line(m), miner) for m in messages}) == len(messages)
    assert all(WILDCARD not in c.template for c in miner.clusters.values())


def test_the_miner_is_deterministic_and_ties_go_to_the_oldest_cluster() -> None:
    msgs = [f"worker {w} stopped after {n} retries" for w, n in (("alpha", 1), ("beta", 2), ("gamma", 3))] + ["worker pool drained"]
    runs = []
    for _ in range(2):
        miner = TemplateMiner()
        runs.append([fp(line(m), miner) for m in msgs])
    assert runs[0] == runs[1] and len(set(runs[0])) == 2


def scan(project: Project) -> dict:
    r = project.cli("--json", "scan")
    assert r.exit_code == 0, r.stderr
    return r.json()


@pytest.fixture
def logs(project: Project) -> Path:
    (project.root / "logs").mkdir()
    project.config.write_text(FILE_SOURCE)
    return project.root / "logs"


def test_miner_state_persists_across_scans_in_the_state_file(project: Project, logs: Path) -> None:
    log = logs / "app.log"
    log.write_text(line("chdir(pwd) failed for job queue nightly") + "\n")
    first = scan(project)
    assert len(first["new_issues"]) == 1
    conn = sqlite3.connect(project.state)
    assert conn.execute("SELECT key, template, count FROM template_clusters").fetchall() == [
        ("chdir(pwd) failed for job queue nightly", "chdir(pwd) failed for job queue nightly", 1)]
    conn.close()
    with log.open("a") as f:  # a later scan, a new process's miner: it must know the cluster from the file
        f.write(line("chdir(/p/gb2/stella/RAPTOR/82379) failed for job queue nightly", ts="2026-11-21 10:05:00,000") + "\n")
    second = scan(project)
    assert second["new_issues"] == [] and [u["new_events"] for u in second["updated_issues"]] == [1]
    conn = sqlite3.connect(project.state)
    assert conn.execute("SELECT template, count FROM template_clusters").fetchall() == [("<*> failed for job queue nightly", 2)]
    (issue,) = conn.execute("SELECT count, fingerprint_version, title FROM issues").fetchall()
    assert issue == (2, FINGERPRINT_VERSION, "chdir(pwd) failed for job queue nightly")


def test_a_v1_message_issue_keeps_its_events_and_its_variants(project: Project, logs: Path) -> None:
    """An issue made by the old masks: its new events land on it, and so do the variants v1 split off, through a link."""
    old_line = line("PacketResponder 1 for block blk_38865049064139660 terminating")
    old_fp = legacy_fingerprint(parse_block(old_line, source="app"))
    assert old_fp is not None and old_fp != fp(old_line)
    scan(project)  # creates the state file (no log yet)
    conn = sqlite3.connect(project.state)
    conn.execute(
        "INSERT INTO issues(fingerprint, fingerprint_version, title, template, source, severity, severity_rule, status, count, "
        "first_seen, last_seen, updated_at) VALUES (?, 2, 'PacketResponder <num> for block <id> terminating', "
        "'PacketResponder <num> for block <id> terminating', 'app', 'P3', 'default:warning-or-handled-error', 'detected', 5, "
        "'2026-11-20T10:00:00+00:00', '2026-11-20T10:00:00+00:00', '2026-11-20T10:00:00+00:00')", [old_fp])
    conn.commit()
    old_id = conn.execute("SELECT id FROM issues").fetchone()[0]
    conn.close()
    # Same shape as the old issue (its v1 fingerprint), then the variant v1 split off (blk_-N), then one more of each.
    (logs / "app.log").write_text("\n".join([
        line("PacketResponder 2 for block blk_11 terminating"),
        line("PacketResponder 0 for block blk_-6952295868487656571 terminating"),
    ]) + "\n")
    data = scan(project)
    assert data["new_issues"] == [] and [(u["id"], u["new_events"]) for u in data["updated_issues"]] == [(old_id, 2)]
    with (logs / "app.log").open("a") as f:
        f.write(line("PacketResponder 1 for block blk_-4 terminating", ts="2026-11-21 10:09:00,000") + "\n")
    data = scan(project)
    assert data["new_issues"] == [] and [(u["id"], u["new_events"]) for u in data["updated_issues"]] == [(old_id, 1)]
    conn = sqlite3.connect(project.state)
    assert conn.execute("SELECT id, count, fingerprint, fingerprint_version FROM issues").fetchall() == [(old_id, 8, old_fp, 2)]
    links = conn.execute("SELECT issue_id, version, old_fingerprint FROM fingerprint_links").fetchall()
    assert links == [(old_id, FINGERPRINT_VERSION, old_fp)]
    audit = [json.loads(r[0]) for r in conn.execute("SELECT details FROM audit WHERE decision = 'linked'")]
    assert [a["old_fingerprint"] for a in audit] == [old_fp]


def test_a_variant_first_still_lands_on_the_v1_issue_in_the_same_scan(project: Project, logs: Path) -> None:
    old_line = line("PacketResponder 1 for block blk_38865049064139660 terminating")
    old_fp = legacy_fingerprint(parse_block(old_line, source="app"))
    scan(project)
    conn = sqlite3.connect(project.state)
    conn.execute(
        "INSERT INTO issues(fingerprint, fingerprint_version, title, source, severity, severity_rule, status, count, "
        "first_seen, last_seen, updated_at) VALUES (?, 1, 't', 'app', 'P3', 'r', 'detected', 1, 'x', 'x', 'x')", [old_fp])
    conn.commit()
    conn.close()
    (logs / "app.log").write_text(line("PacketResponder 0 for block blk_-69 terminating") + "\n" + line("PacketResponder 2 for block blk_11 terminating") + "\n")
    data = scan(project)
    assert data["new_issues"] == [] and [u["new_events"] for u in data["updated_issues"]] == [2]


def test_a_forked_half_is_mined_in_file_order_like_one_process(project: Project) -> None:
    assert parallel.can_fork(6 * 1024 * 1024), "this test needs a multi-core machine"
    project.config.write_text(FILE_SOURCE)
    settings = load_settings(project.config)
    rows: list[str] = []
    n = size = 0
    while size < 4.5 * 1024 * 1024:  # enough for a fork; long INFO lines keep the events few
        n += 1
        error = (f"2026-11-21 10:{n // 6000 % 60:02d}:{n // 100 % 60:02d},000 ERROR app.jobs: chdir({'pwd' if n % 3 else f'/p/gb{n}/x'}) "
                 + ("failed for queue nightly\n" if n % 2 else "refused: permission denied by the site policy\n"))
        info = f"2026-11-21 10:00:00,000 INFO app.http: ok {n} " + "x" * 300 + "\n"
        rows += [error, info]
        size += len(error) + len(info)
    buf = "".join(rows).encode()
    source = SourceConfig(name="app", kind="file", paths=["x"])
    markers = record_finder.markers_for("warning")
    results = []
    for parse in (sources._parse_buffer, sources._events_from_buffer):
        miner = TemplateMiner()
        into = Aggregator(settings, miner=miner)
        parse(buf, source, path="x", base_offset=0, base_line=0, final=True, markers=markers, into=into)
        results.append(([(g.fingerprint, g.count, [e.line for e in g]) for g in into.groups.values()],
                        [(c.key, c.template, c.count) for c in miner.clusters.values()]))
    assert results[0] == results[1]
    groups, clusters = results[0]
    assert len(groups) == 2 and sum(c for _, c, _ in groups) == n
    assert sorted(t for _, t, _ in clusters) == ["<*> failed for queue nightly", "<*> refused: permission denied by the site policy"]
    latest = {parity: [2 * k - 1 for k in range(1, n + 1) if k % 2 == parity][-20:] for parity in (0, 1)}  # error lines
    assert sorted(lines for _, _, lines in groups) == sorted(latest.values())  # the 20 latest of each, interleaved halves
