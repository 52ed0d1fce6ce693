"""The SQLite state file: connection, named migrations, small typed helpers.

Migrations are functions named `mNNN_...`, appended to MIGRATIONS and never
edited once released; sqlite-utils records each in `_sqlite_migrations` and
applies it in a transaction with that record.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from agent_cli import clock
from agent_cli.errors import StateError
from agent_cli.paths import ensure_private_dir
from agent_cli.store import fixes as _fixes
from agent_cli.store import runs as _runs
from agent_cli.store import settings as _settings

ISSUE_STATUSES = (
    "detected",
    "diagnosed",
    "fix_ready",
    "awaiting_approval",
    "staging",
    "production",
    "resolved",
    "rolled_back",
    "needs_human",
    "ignored",
)

MIGRATIONS = Migrations("agent_cli")


def utcnow() -> str:
    """ISO-8601 UTC with microseconds; sorts as text."""
    return clock.current().now().isoformat(timespec="microseconds")


def parse_utc(ts: str | None) -> datetime | None:
    """A stored ISO-8601 time as an aware datetime (naive ones are UTC); None for none or garbage."""
    try:
        when = datetime.fromisoformat(ts) if ts else None
    except (TypeError, ValueError):
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=timezone.utc)


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    statements = [
        """CREATE TABLE issues (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            fingerprint_version INTEGER NOT NULL,
            title TEXT NOT NULL,
            exception_type TEXT,
            template TEXT,
            source TEXT,
            severity TEXT NOT NULL,
            severity_rule TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'detected',
            status_reason TEXT,
            count INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            affected_users INTEGER NOT NULL DEFAULT 0,
            request_paths TEXT NOT NULL DEFAULT '[]',
            auto_fixable INTEGER NOT NULL DEFAULT 0,
            auto_fixable_reason TEXT,
            regressions INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX issues_status ON issues(status)",
        """CREATE TABLE issue_users (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            user_id TEXT NOT NULL,
            PRIMARY KEY (issue_id, user_id)
        )""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            ts TEXT NOT NULL,
            source TEXT NOT NULL,
            path TEXT,
            line INTEGER,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            exception_type TEXT,
            frames TEXT NOT NULL DEFAULT '[]',
            request TEXT NOT NULL DEFAULT '{}',
            user_id TEXT,
            raw TEXT NOT NULL
        )""",
        "CREATE INDEX events_issue ON events(issue_id)",
        """CREATE TABLE diagnoses (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            created_at TEXT NOT NULL,
            provider TEXT NOT NULL,
            root_cause TEXT NOT NULL,
            affected_files TEXT NOT NULL DEFAULT '[]',
            fix_strategy TEXT NOT NULL,
            provider_confidence REAL NOT NULL,
            confidence REAL NOT NULL,
            adjustments TEXT NOT NULL DEFAULT '[]',
            requires_human_approval INTEGER NOT NULL DEFAULT 0,
            estimated_fix_minutes INTEGER,
            culprit TEXT NOT NULL DEFAULT '{}',
            suspect_commit TEXT NOT NULL DEFAULT '{}',
            cost_usd REAL NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX diagnoses_issue ON diagnoses(issue_id)",
        """CREATE TABLE fixes (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            attempt INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            strategy TEXT NOT NULL,
            status TEXT NOT NULL,
            branch TEXT,
            base_sha TEXT,
            sha TEXT,
            summary TEXT,
            diff TEXT,
            files TEXT NOT NULL DEFAULT '[]',
            validation TEXT NOT NULL DEFAULT '[]',
            confidence REAL,
            reason TEXT
        )""",
        "CREATE INDEX fixes_issue ON fixes(issue_id)",
        """CREATE TABLE deployments (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER REFERENCES issues(id),
            fix_id INTEGER REFERENCES fixes(id),
            env TEXT NOT NULL,
            status TEXT NOT NULL,
            sha TEXT,
            previous_sha TEXT,
            started_at TEXT NOT NULL,
            decided_at TEXT,
            reason TEXT
        )""",
        "CREATE INDEX deployments_status ON deployments(status)",
        """CREATE TABLE health_samples (
            id INTEGER PRIMARY KEY,
            deployment_id INTEGER NOT NULL REFERENCES deployments(id),
            ts TEXT NOT NULL,
            ok INTEGER,
            http_status INTEGER,
            latency_ms REAL,
            error_rate REAL,
            error TEXT
        )""",
        """CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER REFERENCES issues(id),
            action TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            reason TEXT,
            requested_at TEXT NOT NULL,
            expires_at TEXT,
            decided_at TEXT,
            decided_by TEXT,
            decision_reason TEXT
        )""",
        """CREATE TABLE llm_calls (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            issue_id INTEGER,
            step TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_ms REAL,
            outcome TEXT NOT NULL,
            prompt TEXT,
            response TEXT
        )""",
        "CREATE INDEX llm_calls_ts ON llm_calls(ts)",
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE scan_cursors (
            source TEXT NOT NULL,
            path TEXT NOT NULL,
            device INTEGER,
            inode INTEGER,
            offset INTEGER NOT NULL DEFAULT 0,
            head_hash TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, path)
        )""",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            command TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            outcome TEXT,
            exit_code INTEGER
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            run_id TEXT,
            issue_id INTEGER,
            step TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX audit_issue ON audit(issue_id)",
        # The audit log is append-only; triggers refuse edits so only someone
        # bypassing SQLite's own rules can alter it, and `audit verify` sees that.
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    ]
    for sql in statements:
        db.execute(sql)


class State:
    """An open state file. Use `State.open(path)`; close with `close()` or `with`."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> "State":
        if not path.exists() and not create:
            raise StateError(f"no state file at {path} (run `agent init`)")
        try:
            ensure_private_dir(path.parent)  # whichever command creates it: kept out of the user's `git status`
            conn = sqlite3.connect(str(path), timeout=30)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            db.execute("PRAGMA busy_timeout = 30000")
            with db.ensure_autocommit_on():
                db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the
            # last commit, which the next run redoes (every step is resumable).
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            state = cls(db, path)
            state.migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {path} cannot be used: {exc}") from None
        except OSError as exc:
            raise StateError(f"state file {path} cannot be created: {exc.strerror or exc}") from None
        return state

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns their names. Safe under concurrency."""
        if not MIGRATIONS.pending(self.db):
            return []
        # BEGIN IMMEDIATE serialises two processes migrating the same new file;
        # sqlite-utils nests each migration in a savepoint inside it.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            pending = [m.name for m in MIGRATIONS.pending(self.db)]
            MIGRATIONS.apply(self.db)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise
        return pending

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "State":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (BEGIN IMMEDIATE, so writers queue rather than fail)."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise

    # settings (agent_cli.store.settings) -------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        return _settings.get(self, key, default)

    def set_setting(self, key: str, value: Any) -> None:
        _settings.put(self, key, value, updated_at=utcnow())

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params or [])
        names = [c[0] for c in cur.description]
        return [dict(zip(names, values, strict=True)) for values in cur]

    # runs (agent_cli.store.runs) ---------------------------------------
    def last_run(self) -> dict[str, Any] | None:
        return _runs.last(self)

    # issues -------------------------------------------------------------
    def issue_counts_by_status(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM issues GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    def count(self, sql: str, params: list[Any] | None = None) -> int:
        return int(self.db.execute(sql, params or []).fetchone()[0])

    def fixes_committed_last_hour(self) -> int:
        """What `policy.max_fixes_per_hour` limits (and `agent status` shows): agent_cli.store.fixes."""
        return _fixes.committed_last_hour(self)


@MIGRATIONS()
def m002_scan_metrics(db: sqlite_utils.Database) -> None:
    statements = [
        # Per-issue counts per minute: frequency windows and the P1 escalation.
        """CREATE TABLE issue_minutes (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            minute TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (issue_id, minute)
        )""",
        # Error-rate metrics per source per minute (events / lines seen), for verify.
        """CREATE TABLE source_metrics (
            source TEXT NOT NULL,
            minute TEXT NOT NULL,
            lines INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, minute)
        )""",
        """CREATE TABLE source_errors (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            source TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
        "ALTER TABLE scan_cursors ADD COLUMN line_no INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE scan_cursors ADD COLUMN skipping INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE issues ADD COLUMN culprit TEXT",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m003_diagnosis_context(db: sqlite_utils.Database) -> None:
    # The code windows and request the diagnosis saw, for `show` and for `fix`.
    db.execute("ALTER TABLE diagnoses ADD COLUMN context TEXT NOT NULL DEFAULT '{}'")
    db.execute("ALTER TABLE diagnoses ADD COLUMN model TEXT")
    # The exception's own message ("'NoneType' object has no attribute 'name'"),
    # apart from the log line that carried it.
    db.execute("ALTER TABLE events ADD COLUMN exception_message TEXT")


@MIGRATIONS()
def m004_fix_runs(db: sqlite_utils.Database) -> None:
    statements = [
        # Validation of an unmodified base, cached per base sha and command list.
        """CREATE TABLE validation_baselines (
            base_sha TEXT NOT NULL,
            commands_hash TEXT NOT NULL,
            results TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (base_sha, commands_hash)
        )""",
        # Where an attempt is being built, so a run after a kill -9 can clean it up.
        "ALTER TABLE fixes ADD COLUMN worktree TEXT",
        "ALTER TABLE fixes ADD COLUMN validation_pgid INTEGER",
        "ALTER TABLE fixes ADD COLUMN approval_reasons TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE fixes ADD COLUMN run_id TEXT",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m005_fix_evidence(db: sqlite_utils.Database) -> None:
    # How a fix was shown to remove the failure: regression_test | related_failure_fixed | none, and the tests.
    db.execute("ALTER TABLE fixes ADD COLUMN evidence TEXT")
    db.execute("ALTER TABLE fixes ADD COLUMN evidence_detail TEXT NOT NULL DEFAULT '{}'")


@MIGRATIONS()
def m006_release(db: sqlite_utils.Database) -> None:
    statements = [
        # A deployment: which commits went where, what the environment looked like before, and the verdicts since.
        "ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy'",  # deploy | rollback (a responder's, with no deployment)
        "ALTER TABLE deployments ADD COLUMN branch TEXT",
        "ALTER TABLE deployments ADD COLUMN remote TEXT",
        "ALTER TABLE deployments ADD COLUMN fix_sha TEXT",  # the fix commit; `sha` is the environment branch head it produced
        "ALTER TABLE deployments ADD COLUMN baseline TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE deployments ADD COLUMN live_at TEXT",  # deploy and status commands done; the window starts here
        "ALTER TABLE deployments ADD COLUMN rollback_sha TEXT",
        "ALTER TABLE deployments ADD COLUMN rollback_of TEXT NOT NULL DEFAULT '[]'",  # the commits the rollback reverted
        "ALTER TABLE deployments ADD COLUMN run_id TEXT",
        "CREATE INDEX deployments_issue ON deployments(issue_id)",
        # A sample's verdict and every check behind it (health URL, error rate, the issue itself).
        "ALTER TABLE health_samples ADD COLUMN verdict TEXT",
        "ALTER TABLE health_samples ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX health_samples_deployment ON health_samples(deployment_id)",
        # The issue's life after shipping: rollbacks counted against max_rollbacks_per_issue, and a watch after resolve.
        "ALTER TABLE issues ADD COLUMN rollbacks INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE issues ADD COLUMN resolved_at TEXT",
        "ALTER TABLE issues ADD COLUMN watch_until TEXT",
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            deployment_id INTEGER REFERENCES deployments(id),
            issue_id INTEGER REFERENCES issues(id),
            created_at TEXT NOT NULL,
            env TEXT NOT NULL,
            path TEXT,
            body TEXT NOT NULL
        )""",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m007_template_miner(db: sqlite_utils.Database) -> None:
    statements = [
        # Grouping v2's template miner (agent_cli.detect.miner): one row per cluster, named for good by the masked
        # message that created it (`key`); `template` gains `<*>` where its messages differ.
        """CREATE TABLE template_clusters (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            tokens INTEGER NOT NULL,
            template TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # A fingerprint of a newer version recorded as belonging to an older issue: the v1/v2 message issue whose
        # events it now groups, so that issue keeps receiving them instead of a new issue opening beside it.
        """CREATE TABLE fingerprint_links (
            fingerprint TEXT PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            version INTEGER NOT NULL,
            old_fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX fingerprint_links_issue ON fingerprint_links(issue_id)",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m008_issue_links(db: sqlite_utils.Database) -> None:
    statements = [
        # Issues related to one another, both ways (a row per direction): `probe_window` joins a failing health probe
        # and the errors seen within minutes of it, `same_throw_site` issues thrown from the same in-app function.
        """CREATE TABLE issue_links (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            related_id INTEGER NOT NULL REFERENCES issues(id),
            kind TEXT NOT NULL CHECK (kind IN ('probe_window', 'same_throw_site')),
            created_at TEXT NOT NULL,
            PRIMARY KEY (issue_id, related_id, kind)
        )""",
        "CREATE INDEX issue_links_related ON issue_links(related_id)",
        # The errors of a minute range, across issues (the probe window).
        "CREATE INDEX issue_minutes_minute ON issue_minutes(minute)",
        # Where the issue's error is thrown: "repo/path.py in function" of the top in-app frame, '' when none.
        "ALTER TABLE issues ADD COLUMN throw_site TEXT",
        "CREATE INDEX issues_throw_site ON issues(throw_site)",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m009_notifications(db: sqlite_utils.Database) -> None:
    # One row per notification (agent_cli.notify): the dedupe key says "already sent", the results say where it went.
    db.execute(
        """CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            run_id TEXT,
            event TEXT NOT NULL,
            issue_id INTEGER,
            dedupe_key TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            results TEXT NOT NULL DEFAULT '[]',
            ok INTEGER NOT NULL DEFAULT 0,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX notifications_issue ON notifications(issue_id)")


@MIGRATIONS()
def m010_approvals(db: sqlite_utils.Database) -> None:
    statements = [
        # What a person is asked (gate: fix | deploy:<env> | verify | cancel_window), with the rules, diff summary,
        # confidence and evidence; an approval passes its gate once (consumed_at).
        "ALTER TABLE approvals ADD COLUMN gate TEXT",
        "ALTER TABLE approvals ADD COLUMN deployment_id INTEGER",
        "ALTER TABLE approvals ADD COLUMN details TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE approvals ADD COLUMN consumed_at TEXT",
        "CREATE INDEX approvals_gate ON approvals(issue_id, gate, status)",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m011_llm_models(db: sqlite_utils.Database) -> None:
    statements = [
        # Thinking tokens of a call (part of its output tokens, from usage.output_tokens_details).
        "ALTER TABLE llm_calls ADD COLUMN thinking_tokens INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX llm_calls_issue ON llm_calls(issue_id)",
        # Why a diagnosis came from another provider than configured ("llm unavailable: ...").
        "ALTER TABLE diagnoses ADD COLUMN provider_note TEXT",
    ]
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m012_outbox(db: sqlite_utils.Database) -> None:
    # Domain events (issue detected, deployed, rolled back, needs a person, approval needed), written in the same
    # transaction as the change; any command drains them through notify (agent_cli.outbox).
    db.execute(
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            run_id TEXT,
            event TEXT NOT NULL,
            issue_id INTEGER,
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX outbox_unsent ON outbox(sent_at)")
