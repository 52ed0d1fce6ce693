"""The template miner's clusters (`template_clusters`, see agent_cli.detect.miner): loaded at a scan's start, saved in its transaction."""

from __future__ import annotations

from dataclasses import dataclass

from agent_cli.state import State


@dataclass(frozen=True)
class StoredCluster:
    id: int
    key: str
    template: str
    count: int


def clusters(state: State) -> list[StoredCluster]:
    """Every cluster, oldest first."""
    return [StoredCluster(row_id, key, template, count)
            for row_id, key, template, count in state.db.execute("SELECT id, key, template, count FROM template_clusters ORDER BY id")]


def add_cluster(state: State, key: str, tokens: int, template: str, count: int, stamp: str) -> int | None:
    """Insert a cluster (or, if its key is stored already, update that row's template and count); returns the row id inserted."""
    cur = state.db.execute(
        "INSERT INTO template_clusters(key, tokens, template, count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET template = excluded.template, count = excluded.count, updated_at = excluded.updated_at",
        [key, tokens, template, count, stamp, stamp],
    )
    return int(cur.lastrowid or 0) or None


def update_cluster(state: State, cluster_id: int, template: str, count: int, stamp: str) -> None:
    state.db.execute("UPDATE template_clusters SET template = ?, count = ?, updated_at = ? WHERE id = ?", [template, count, stamp, cluster_id])
