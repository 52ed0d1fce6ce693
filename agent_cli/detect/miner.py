"""Template mining (Drain-style) over masked messages: the variables no mask can know.

Masks (agent_cli.detect.masking.template_v2) turn the shapes we can name into
`<num>`, `<path>`, `<ip>` ... What stays is text whose variable parts sit at a
position: `chdir(pwd)` vs `chdir(/p/gb2/x)`, a user name, a queue name. The miner
groups such messages the way Drain does (He et al., ICWS 2017):

- a fixed-depth parse tree: first by token count, then by the first
  `LEADING_TOKENS` tokens (a token with a digit, a mask, `/`, `(`, `=` or `@`
  goes under `<*>`);
- in the leaf, the cluster whose template is most similar (equal tokens at the
  same position, over the token count), if that similarity reaches
  `SIMILARITY`; ties go to the template with more wildcards, then the oldest;
- a position where the message and the template differ becomes `<*>`, except
  a word naming a kind of failure (`KeyError`, `TimeoutException`): messages
  that differ there are never merged.

A cluster is named, for good, by the masked message that created it (`key`):
its template may later gain wildcards, its fingerprint never moves. The state
lives in SQLite (`template_clusters`, migration m007_template_miner): no pickles,
and the same lines in the same order give the same clusters on every machine.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent_cli.store import miner as store_miner

if TYPE_CHECKING:
    from agent_cli.state import State

WILDCARD = "<*>"
LEADING_TOKENS = 1  # tree depth 3: root, token count, the leading token
SIMILARITY = 0.6
MAX_CHILDREN = 100  # per inner node; beyond it new leading tokens share the `<*>` child
MAX_TOKENS = 120  # longer messages are cut (the tail of a giant message does not name the bug)
MAX_CLUSTERS_PER_LEAF = 200  # beyond it a message that matches nothing gets a cluster of its own, not kept in the tree


def tokens_of(masked: str) -> list[str]:
    return masked.split()[:MAX_TOKENS]


# Tokens that name a kind of failure are never a variable: `lookup failed KeyError` and `lookup failed TypeError`
# are two bugs, however similar the rest of the line.
_KIND_WORDS = re.compile(r"(?:Error|Exception|Fault|Failure|Warning|Panic|Timeout)s?[:,.;)\]]*$|^(?:ERROR|FATAL|CRITICAL|WARN|WARNING|PANIC)\b")


def _is_kind(token: str) -> bool:
    return bool(_KIND_WORDS.search(token))


_VARIABLE_SIGNS = re.compile(r"[\d</(=@]")


def _route_token(token: str) -> str:
    # Drain sends a token with a digit down the `<*>` branch; so does one that holds a mask or looks like a call,
    # a path or an assignment (`uid=<num>(com.x)`, `chdir(pwd)`): such a token is where variables sit.
    return WILDCARD if _VARIABLE_SIGNS.search(token) else token


def _path(tokens: list[str]) -> tuple[str, ...]:
    return (str(len(tokens)),) + tuple(_route_token(t) for t in tokens[:LEADING_TOKENS])


@dataclass
class Cluster:
    key: str  # the masked message that created it: its name for good
    tokens: list[str]  # the template, wildcards included
    id: int | None = None  # row id once stored
    count: int = 0
    dirty: bool = True

    @property
    def template(self) -> str:
        return " ".join(self.tokens)

    @property
    def wildcards(self) -> int:
        return sum(1 for t in self.tokens if t == WILDCARD)


@dataclass
class TemplateMiner:
    similarity: float = SIMILARITY
    clusters: dict[str, Cluster] = field(default_factory=dict)  # by key, in creation order
    _leaves: dict[tuple[str, ...], list[Cluster]] = field(default_factory=dict)
    _children: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    _seen: dict[str, Cluster] = field(default_factory=dict)  # masked message -> its cluster, this process only
    last: Cluster | None = None  # the cluster `match` returned last

    def _leaf_path(self, tokens: list[str], create: bool) -> tuple[str, ...]:
        path = _path(tokens)
        # Bound the fan-out of each inner node the way Drain does: past MAX_CHILDREN, new tokens share `<*>`.
        out: list[str] = [path[0]]
        for token in path[1:]:
            prefix = tuple(out)
            children = self._children.setdefault(prefix, set())
            if token not in children and token != WILDCARD and len(children) >= MAX_CHILDREN:
                token = WILDCARD
            if create:
                children.add(token)
            out.append(token)
        return tuple(out)

    def _best(self, leaf: list[Cluster], tokens: list[str]) -> Cluster | None:
        best: Cluster | None = None
        best_score = (-1.0, -1)
        for cluster in leaf:
            if any(a != b and (_is_kind(a) or _is_kind(b)) for a, b in zip(cluster.tokens, tokens)):
                continue  # a different kind of failure: never the same template
            same = sum(1 for a, b in zip(cluster.tokens, tokens) if a == b and a != WILDCARD)
            score = (same / len(tokens), cluster.wildcards)
            if score > best_score:  # strictly better: on a tie the older cluster stays
                best, best_score = cluster, score
        if best is not None and best_score[0] >= self.similarity:
            return best
        return None

    def match(self, masked: str, weight: int = 1) -> Cluster:
        """The cluster of a masked message (`weight` times), created or generalised as needed."""
        cluster = self._seen.get(masked)
        if cluster is not None:
            cluster.count += weight
            cluster.dirty = True
            self.last = cluster
            return cluster
        tokens = tokens_of(masked)
        if not tokens:
            tokens = [""]
        path = self._leaf_path(tokens, create=True)
        leaf = self._leaves.setdefault(path, [])
        cluster = self._best(leaf, tokens)
        if cluster is None:
            key = " ".join(tokens)
            cluster = self.clusters.get(key)
            if cluster is None:
                cluster = Cluster(key, list(tokens))
                self.clusters[key] = cluster
                if len(leaf) < MAX_CLUSTERS_PER_LEAF:
                    leaf.append(cluster)
        else:
            merged = [a if a == b else WILDCARD for a, b in zip(cluster.tokens, tokens)]
            if merged != cluster.tokens:
                cluster.tokens = merged
                cluster.dirty = True
        cluster.count += weight
        cluster.dirty = True
        if len(self._seen) >= 50_000:
            self._seen.clear()
        self._seen[masked] = cluster
        self.last = cluster
        return cluster

    def _add_loaded(self, cluster: Cluster) -> None:
        self.clusters[cluster.key] = cluster
        path = self._leaf_path(tokens_of(cluster.key) or [""], create=True)
        leaf = self._leaves.setdefault(path, [])
        if len(leaf) < MAX_CLUSTERS_PER_LEAF:
            leaf.append(cluster)

    # SQLite state -------------------------------------------------------
    @classmethod
    def load(cls, state: State) -> TemplateMiner:
        """The miner as stored in the state file (`template_clusters`), oldest cluster first."""
        miner = cls()
        for row in store_miner.clusters(state):
            miner._add_loaded(Cluster(row.key, row.template.split(" "), row.id, row.count, dirty=False))
        return miner

    def save(self, state: State, stamp: str) -> int:
        """Write new and changed clusters; returns how many rows were written."""
        written = 0
        for cluster in self.clusters.values():
            if not cluster.dirty:
                continue
            if cluster.id is None:
                cluster.id = store_miner.add_cluster(state, cluster.key, len(cluster.tokens), cluster.template, cluster.count, stamp)
            else:
                store_miner.update_cluster(state, cluster.id, cluster.template, cluster.count, stamp)
            cluster.dirty = False
            written += 1
        return written


def cluster_digest(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:16]
