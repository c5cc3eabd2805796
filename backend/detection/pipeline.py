"""The refresh as a pure function: `detect(snapshot, previous, params) -> Detection`.

No database here: `reads` builds the snapshot and the previous clusters, `repository.write_back`
writes what `write_back_rows` returns. So the whole model (projection, Leiden, the peel, scores,
stable IDs, membership changes) is unit-tested on hand-built graphs, and a benchmark can feed it
any population.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import igraph as ig
import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph  # noqa: F401 - registers sparse.csgraph

from backend.detection.communities import leiden
from backend.detection.identity import Assignment, ClusterEvent, assign, membership_changes
from backend.detection.projection import (
    BUILD_KIND,
    CONJUNCTION,
    Incidence,
    Quotient,
    chance_floors,
    conjunctions,
    in_row_shards,
    locate,
    project,
    quotient,
    unique_runs,
)
from backend.detection.records import Memberships, WriteBack
from backend.detection.scoring import (
    BIAS,
    RISK_WEIGHTS,
    TIE_FLOOR,
    Scored,
    behaviour_similarity,
    best_ties,
    confidence,
    evidence,
    member_ties,
    score,
    thin_shrunk,
    tie_and_template_positions,
    tie_strength,
)
from backend.graph.model import BEHAVIOUR_LINKS, OWNER_LINKS, PLACE_LINKS, ClusterStatus

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
CORE_CONFIDENCE = 0.5  # members below it are split off their community before scoring
PEEL_ROUNDS = 3
WHY_TIES = 3  # strongest ties stored per member: enough to check, short enough to read

# Dense account indices -> (feature columns over all dense accounts, email-shape code per
# account). Called once, for the members of candidate communities only: reading features for
# every linked account would cost most of a refresh at a million accounts.
FeatureReader = Callable[[I64], tuple[dict[str, F64], I64]]


@dataclass(frozen=True)
class Params:
    kind_weights: dict[str, float]
    link_cap: int
    exact_max: int
    sample_rounds: int
    resolution: float
    leiden_iterations: int
    min_cluster_size: int
    seed: int
    flag_threshold: float
    cold_iterations: int  # Leiden passes when nothing warm-starts it (the first refresh)

    @classmethod
    def from_settings(cls, settings: Any) -> Params:
        return cls(
            kind_weights=dict(settings.DETECTION_KIND_WEIGHTS),
            link_cap=settings.DETECTION_LINK_CAP,
            exact_max=settings.DETECTION_EXACT_MAX,
            sample_rounds=settings.DETECTION_SAMPLE_ROUNDS,
            resolution=settings.DETECTION_RESOLUTION,
            leiden_iterations=settings.DETECTION_LEIDEN_ITERATIONS,
            min_cluster_size=settings.DETECTION_MIN_CLUSTER_SIZE,
            seed=settings.DETECTION_SEED,
            flag_threshold=settings.DETECTION_FLAG_THRESHOLD,
            cold_iterations=settings.DETECTION_LEIDEN_COLD_ITERATIONS,
        )


@dataclass
class Snapshot:
    """The graph as detection sees it: shared identifiers and a way to read member features."""

    incidence: Incidence
    node_ids: I64  # dense account index -> internal node id (in account id order)
    features: FeatureReader
    # Set when the snapshot is a region of the graph (an incremental refresh): the total link
    # weight of the whole graph's projection, which Leiden's null model is relative to.
    total_weight: float | None = None
    # Also for a region: accounts that may not join a cluster in it (neighbours of the change,
    # themselves untouched and in no cluster). Their own ties reach outside the region and
    # were not read, so the region alone would judge them on the part of their ties that is
    # there: genuine accounts on a network's exits joined its clusters (docs/benchmarks.md).
    # They still tie the region together for Leiden; the full refresh judges them.
    frozen: npt.NDArray[np.bool_] | None = None
    # Also for a region: per account, the previous cluster (a number) its untouched members
    # belong to, -1 for the rest. Leiden moves each such group as one (`communities.leiden`).
    groups: I64 | None = None


@dataclass(frozen=True)
class Partition:
    """Each account's community as a refresh's Leiden left it (before the peel), by internal
    node id; accounts in no community are left out. `strengths`: each one's strength in the
    projection of the whole graph (a region's Leiden weighs pairs by them, `leiden`)."""

    nodes: I64
    labels: I64
    strengths: F64 | None = None

    @classmethod
    def of(cls, community: I64, node_ids: I64, strengths: F64 | None = None) -> Partition:
        placed = community >= 0
        return cls(
            node_ids[placed].astype(np.int64), community[placed].astype(np.int64),
            None if strengths is None else np.asarray(strengths, np.float64)[placed],
        )  # fmt: skip

    def strengths_of(self, node_ids: I64) -> F64:
        """Per given node, its strength here (0 where unknown)."""
        out = np.zeros(node_ids.size)
        if self.strengths is not None and self.nodes.size:
            pos, ok = locate(node_ids, self.nodes)
            out[pos[ok]] = self.strengths[ok]
        return out


@dataclass
class Previous:
    """What the last refresh left: active clusters, the community each was peeled from, their
    current memberships, and the evidence of active and dissolved clusters (for regrowth)."""

    ids: list[str]  # active cluster ids, sorted
    evidence: dict[str, set[str]]  # active and dissolved clusters
    community: dict[str, int]  # active cluster id -> community number
    members: Memberships
    network: dict[str, str] = field(default_factory=dict)  # flagged cluster id -> network id
    kin: dict[str, str] = field(default_factory=dict)  # cluster id -> its kin group's head
    confirmed: set[str] = field(default_factory=set)  # active clusters an analyst confirmed
    # Active cluster -> its evidence keys for identifiers it holds most of (half the holders or
    # more): its own, so a change on one is a change to the cluster (`affected`).
    owned: dict[str, set[str]] = field(default_factory=dict)
    # Where the last refresh's Leiden left every account it placed, clustered or not (node ids,
    # community): the warm start of the accounts no previous cluster holds (`previous_labels`).
    partition: Partition | None = None

    @classmethod
    def empty(cls) -> Previous:
        return cls([], {}, {}, Memberships(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0)))

    def network_members(self) -> dict[str, set[int]]:
        """Network id -> the nodes of its clusters' current members."""
        out: dict[str, set[int]] = {}
        nodes, clusters = self.members.nodes.tolist(), self.members.clusters.tolist()
        for node, cid in zip(nodes, clusters, strict=True):
            if cid in self.network:
                out.setdefault(self.network[cid], set()).add(node)
        return out

    def affected(self, nodes: I64, keys: set[str]) -> list[str]:
        """The active clusters an incremental refresh recomputes when `nodes` changed or sit
        next to a change, `keys` being the identifiers the changed accounts hold: clusters
        holding any of the nodes, clusters that own any of the keys (what ties a network whose
        members share only identifiers too common to link one by one: template bands, a client
        build), every cluster peeled from the same community as those (they were one
        community to Leiden and may be one again), and every cluster of the same network (its
        verdict is judged over all its parts: `score`'s `kin`), and every kin of those, flagged
        or not (`Detection.kin_ids`). Identifiers a cluster merely shares with many others (a
        carrier's subnet) do not count: it does not own them."""
        hit = set(self.members.clusters[np.isin(self.members.nodes, nodes)].tolist())
        hit |= {c for c in self.ids if not self.owned.get(c, set()).isdisjoint(keys)}
        communities = {self.community[c] for c in hit}
        networks = {self.network[c] for c in hit if c in self.network}
        kin = {self.kin[c] for c in hit if c in self.kin}
        return sorted(
            c for c in self.ids
            if self.community[c] in communities or self.network.get(c, "") in networks
            or self.kin.get(c, "") in kin
        )  # fmt: skip

    def restrict(self, ids: list[str]) -> Previous:
        """Only these active clusters (and every dissolved one, which may regrow here).
        Other active clusters' evidence is left out: regrowth must not hand out their ids."""
        keep = set(ids)
        dormant = set(self.evidence) - set(self.ids)
        rows = np.isin(self.members.clusters.astype(str), np.asarray(sorted(keep), dtype=str))
        conf = self.members.confidences
        return Previous(
            ids=sorted(keep),
            evidence={c: e for c, e in self.evidence.items() if c in keep or c in dormant},
            community={c: n for c, n in self.community.items() if c in keep},
            members=Memberships(
                self.members.nodes[rows], self.members.clusters[rows],
                None if conf is None else conf[rows],
            ),
            network={c: n for c, n in self.network.items() if c in keep},
            kin={c: n for c, n in self.kin.items() if c in keep},
            confirmed=self.confirmed & keep,
            owned={c: k for c, k in self.owned.items() if c in keep},
            partition=self.partition,
        )  # fmt: skip

    @classmethod
    def after(cls, result: Detection, node_ids: I64) -> Previous:
        """What the graph holds once `result` is written (for replays without a database).
        Dissolved clusters' evidence is not carried."""
        ids = result.assignment.ids
        evidence = {
            cid: {f"{k}:{key}" for k, key, _, _ in result.proof.get(c, [])}
            for c, cid in enumerate(ids)
        }
        dense = np.asarray([i for m in result.members_of for i in m], np.int64)
        sizes = [len(m) for m in result.members_of]
        return cls(
            ids=sorted(ids),
            evidence=evidence,
            community={cid: result.community_of[c] for c, cid in enumerate(ids)},
            network={cid: n for cid, n in zip(ids, result.network_ids, strict=True) if n},
            kin={cid: n for cid, n in zip(ids, result.kin_ids, strict=True) if n},
            owned={
                cid: {f"{k}:{key}" for k, key, n, d in result.proof.get(c, []) if 2 * n >= d}
                for c, cid in enumerate(ids)
            },
            members=Memberships(
                node_ids[dense],
                np.repeat(np.asarray(ids, dtype=object), sizes),
                np.round(result.conf[dense], 4),
            ),
            partition=Partition.of(result.community, node_ids, result.strengths),
        )


@dataclass
class Detection:
    matrix: sparse.csr_matrix
    labels: I64  # dense account -> cluster index (after the peel), -1 for none
    community: I64  # dense account -> community (before the peel), -1 for none
    conf: F64  # membership confidence per dense account
    scored: Scored
    proof: dict[int, list[tuple[str, str, int, int]]]
    assignment: Assignment
    members_of: list[list[int]]  # cluster index -> dense accounts
    community_of: list[int]  # cluster index -> community
    communities: int  # found by Leiden, before dropping small ones
    attached: int = 0  # accounts in no community that joined a cluster (`attach`)
    moved: int = 0  # members below the peel's bar that moved to another cluster (`attach`)
    network_ids: list[str] = field(default_factory=list)  # per cluster, "" when not flagged
    # Per cluster, its kin group's smallest cluster id ("" when it has no kin: `cluster_ties`), so
    # an incremental refresh recomputes a group's parts together, flagged or not.
    kin_ids: list[str] = field(default_factory=list)
    weight: float = 0.0  # total link weight of the projection (both directions)
    # Per account, its strength as Leiden weighed it: its row sum, or on a region its strength
    # in the whole graph where the last refresh recorded it (`Partition.strengths`).
    strengths: F64 = field(default_factory=lambda: np.zeros(0))
    # Why each member is in its cluster: tie strength, behaviour similarity, and its WHY_TIES
    # strongest ties as (account, identifier, members holding it) rows (`member_ties`).
    tie: F64 = field(default_factory=lambda: np.zeros(0))
    similarity: F64 = field(default_factory=lambda: np.zeros(0))
    ties: tuple[I64, I64, I64] = field(default_factory=lambda: (np.zeros(0, np.int64),) * 3)
    seconds: dict[str, float] = field(default_factory=dict)
    # Parts of the scores stage: "inputs", the wait for the feature table read in the background.
    scores: dict[str, float] = field(default_factory=dict)


@contextmanager
def timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Record how long the block took under `name` (a refresh's stage timings)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        # Added to what the name already holds: a cold start runs the stages twice (`detect`).
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def relabel(labels: I64, min_size: int) -> I64:
    """Drop communities smaller than min_size (label -1) and renumber the rest 0..k-1."""
    ok = labels >= 0
    if not ok.any():
        return labels
    sizes = np.bincount(labels[ok])
    ok &= sizes[np.maximum(labels, 0)] >= min_size
    out = np.full(labels.size, -1, np.int64)
    if ok.any():
        _, out[ok] = np.unique(labels[ok], return_inverse=True)
    return out


def reach_degrees(kind_weights: dict[str, float], link_cap: int) -> dict[str, int]:
    """Per kind, the most holders an identifier can have and still tie two accounts by at least
    TIE_FLOOR (`weight / (holders - 1)`, as `best_ties` measures a tie): an incremental refresh
    recomputes the accounts tied so to a changed one. A weaker tie is one the model's own
    attachment ignores, and takes a hundred of them to make one shared card; never above the
    link cap, past which identifiers do not link."""
    return {
        kind: min(link_cap, int(1 + weight / TIE_FLOOR)) for kind, weight in kind_weights.items()
        if weight > 0
    }  # fmt: skip


@dataclass
class Region:
    """What an incremental refresh recomputes, chosen on a whole-graph incidence."""

    previous: Previous  # the affected clusters (`Previous.restrict`)
    keep: npt.NDArray[np.bool_]  # per dense account: in the region
    frozen: npt.NDArray[np.bool_]  # per dense account: context only (`Snapshot.frozen`)
    groups: I64  # per dense account: its previous cluster if untouched (`Snapshot.groups`)
    size: int  # accounts in the region, including touched ones that hold nothing shared


def region_of(
    inc: Incidence,
    node_ids: I64,
    touched: I64,
    previous: Previous,
    reach: dict[str, int],
    settled: float,
) -> Region:
    """The touched accounts (internal ids), every account tied to one of them by an identifier
    within `reach` holders, and the clusters `Previous.affected` names for them and the
    identifiers the touched accounts hold; untouched neighbours outside those clusters are
    frozen; untouched members at `settled` confidence or more move with their cluster
    (`member_groups`). The same choice `service` makes from Neo4j when it has no cached
    incidence."""
    rows = inc.identifier_of_row
    hit = np.isin(node_ids, touched)
    held = np.zeros(inc.degree.size, bool)
    held[rows[hit[inc.holders]]] = True
    limit = np.array([reach.get(k, 0) for k in inc.kinds], np.int64)[inc.kind]
    within = held & (inc.degree <= limit)
    near = hit.copy()
    near[inc.holders[within[rows]]] = True
    keys = {f"{inc.kinds[inc.kind[j]]}:{inc.keys[j]}" for j in np.flatnonzero(held).tolist()}
    near_nodes = np.union1d(node_ids[near], touched)
    scoped = previous.restrict(previous.affected(near_nodes, keys))
    member = np.isin(node_ids, scoped.members.nodes)
    size = int(np.union1d(near_nodes, scoped.members.nodes).size)
    groups = member_groups(node_ids, hit, scoped, settled)
    return Region(scoped, near | member, near & ~hit & ~member, groups, size)


def member_groups(
    node_ids: I64, touched: npt.NDArray[np.bool_], previous: Previous, settled: float
) -> I64:
    """Per account, the index of its previous cluster in `previous.ids` if it is a member at
    `settled` confidence or more (the ban gate) and was not touched, else -1.

    A member under the gate is free in the region's Leiden, as in the whole graph's: the last
    refresh held it at the periphery, and moved with its cluster as one vertex it stays in the
    cluster's community whatever the whole graph would do. A household's original, a member
    of a network's cluster at 0.51-0.58 on its exits, kept its new clone there, and their ties
    to each other banned both (15 genuine accounts banned by the region only, 1 with the gate;
    docs/benchmarks.md, "Incremental refresh", seed 46)."""
    members = previous.members
    groups = np.full(node_ids.size, -1, np.int64)
    if not len(members):
        return groups
    # `previous.ids` is sorted, so a cluster's index is where its id sorts.
    ids = np.asarray(previous.ids, dtype=str)
    cluster = np.searchsorted(ids, members.clusters.astype(str)).astype(np.int64)
    pos, found = locate(members.nodes, node_ids)
    ok = found & ~touched
    if members.confidences is not None:  # `pos` is an index even where not `found`
        ok &= np.asarray(members.confidences, np.float64)[pos] >= settled
    groups[ok] = cluster[pos[ok]]
    return groups


def previous_labels(previous: Previous, node_ids: I64) -> I64:
    """Dense account index -> the community its cluster was peeled from in the previous
    refresh; for an account no cluster holds, the community the last refresh's Leiden left it
    in (`Previous.partition`, numbered after those); -1 if neither.

    Starting Leiden from the previous communities rather than the peeled clusters lets it
    start where it converged last time: the peel then splits the same way, and an unchanged
    graph keeps its memberships (starting from the peeled clusters, Leiden re-merged and the
    peel re-split a different fifth of them on each refresh).
    """
    members = previous.members
    initial = np.full(node_ids.size, -1, np.int64)
    if not node_ids.size:
        return initial
    if len(members):
        names, inverse = np.unique(members.clusters.astype(str), return_inverse=True)
        cluster = np.asarray([previous.community[c] for c in names.tolist()], np.int64)[inverse]
        pos, ok = locate(node_ids, members.nodes)
        initial[pos[ok]] = cluster[ok]
    part = previous.partition
    if part is not None and part.nodes.size:
        # Numbered after the clusters' communities: the two numberings are not the same one.
        pos, ok = locate(node_ids, part.nodes)
        free = ok & (initial[pos] < 0)
        initial[pos[free]] = part.labels[free] + int(initial.max(initial=-1)) + 1
    return initial


def connected(matrix: sparse.csr_matrix, labels: I64) -> I64:
    """Each cluster split into the connected components of the graph it induces.

    Leiden's communities are connected, but the peel can remove the members that tied a group
    to the rest: a household the peel left behind (its card and address wholly inside the
    cluster, so its own ties look perfect) with no link to any remaining member is not part of
    the network, and becomes a cluster of its own.
    """
    # The matrix's own structure with the edges between clusters zeroed out: no re-sort of
    # millions of entries per peel round, the same graph.
    row = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    col = matrix.indices[: row.size]  # scipy may leave spare capacity past nnz
    label_of_row = labels[row]
    inside = (label_of_row >= 0) & (label_of_row == labels[col])
    induced = sparse.csr_matrix(
        (inside.astype(np.float64), col.copy(), matrix.indptr.copy()), shape=matrix.shape
    )
    induced.eliminate_zeros()  # in place: on copies, never the projection's arrays
    # The graph is symmetric, so its strongly connected components are its connected ones, and
    # scipy's strong search skips the transpose its undirected one builds (0.21 s → 0.08 s a
    # round on a region). Numbered by their smallest account, as the undirected search does.
    _, component = sparse.csgraph.connected_components(induced, directed=True, connection="strong")
    _, first = np.unique(component, return_index=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return np.where(labels >= 0, rank[component], -1).astype(np.int64)


KEY_LIMIT = 2**62  # combined integer keys stay below this (int64, with room to spare)


def _triple_keys_fit(inc: Incidence, clusters: int, n: int) -> bool:
    """Whether (identifier, cluster, group) fits one int64 key (`_shares`, `regrouped`)."""
    return inc.degree.size * clusters * n < KEY_LIMIT


def owner_groups(inc: Incidence, labels: I64, link_cap: int) -> I64:
    """Per account, its group: the accounts of its cluster tied to it by owner identifiers
    (a household's card and address, a team's corporate card, a network's card ring); an
    account in no cluster is a group of its own. Group numbers are account indices."""
    n, clusters = labels.size, int(labels.max()) + 1 if labels.size else 0
    rows = inc.identifier_of_row
    lab = labels[inc.holders]
    owner_kind = np.array([k in OWNER_LINKS for k in inc.kinds], bool)[inc.kind[rows]]
    owner = owner_kind & (inc.degree[rows] <= link_cap) & (lab >= 0)
    # Star each owner identifier's holders inside one cluster onto the first of them.
    key = rows[owner] * clusters + lab[owner]
    order = np.argsort(key, kind="stable")
    first = np.diff(key[order], prepend=-1) != 0  # (empty when no owner identifier is held)
    start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
    members = inc.holders[owner][order]
    graph = sparse.csr_matrix((np.ones(members.size), (members, members[start])), shape=(n, n))
    _, group = sparse.csgraph.connected_components(graph, directed=False)
    return np.asarray(group, np.int64)


def split_self_tied(
    inc: Incidence,
    labels: I64,
    link_cap: int,
    table: dict[str, F64],
    weights: dict[str, float],
    group: I64 | None = None,
    min_size: int = 1,
    tie: F64 | None = None,
) -> I64:
    """Split off each group of a cluster that is tied to it only through itself.

    The peel judges a member on its ties into its cluster, and a household's own card,
    address and IP count among them when the whole household sits inside: at a million
    accounts, 37 genuine accounts in couples and trios on a proxy network's residential
    subnets tied their partners at 2.1-3.4 and passed the peel's bar together (13 of them
    flagged). What a group shares with its own members says nothing about the cluster, so a
    group (two or more, at most half of its cluster) none of whose members reaches the peel's
    bar (`CORE_CONFIDENCE`, the same confidence) on its ties to the rest of the cluster alone
    becomes a cluster of its own. Half, not less, when a half can stand as a cluster
    (`min_size`): a cluster of two such halves (a network's card ring of 11 and a company's 11
    accounts on one shared exit, draw 62) is two clusters. A smaller one stays whole: split, its
    halves would dissolve and their members come and go between refreshes (split so, a full
    refresh and an incremental one of the integration test's graph differed by a cluster of
    10 such accounts; kept whole, they agree). A network's card ring stays: its templates,
    builds and exits are held by hundreds of the rest, and one member so tied keeps a ring
    whose other members have not used them yet. `group`: `owner_groups` of these labels, and
    `tie`: their `tie_strength`, when the caller has them.
    """
    if not (labels >= 0).any():
        return labels
    if group is None:
        group = owner_groups(inc, labels, link_cap)
    if tie is None:
        tie = tie_strength(inc, labels, weights)
    untied, _, size, of = _untied_groups(
        inc, labels, group, tie, behaviour_similarity(table, labels), weights
    )
    self_tied = untied & (2 * size <= of) & ((2 * size < of) | (size >= min_size))
    return np.where(self_tied, int(labels.max()) + 1 + group, labels).astype(np.int64)


def _untied_groups(
    inc: Incidence, labels: I64, group: I64, tie: F64, similarity: F64, weights: dict[str, float]
) -> tuple[npt.NDArray[np.bool_], F64, I64, I64]:
    """Per account: whether it is in a cluster, in an owner group (`owner_groups`) of two or
    more none of whose members reaches CORE_CONFIDENCE on its ties to the rest of the cluster;
    its tie to that rest (`tie` less what it shares with its own group); its group's size and
    its cluster's."""
    in_cluster = labels >= 0
    n = labels.size
    own = tie_strength(inc, np.where(in_cluster, group, -1), weights)
    rest = tie - own
    passes = in_cluster & (confidence(rest, similarity) >= CORE_CONFIDENCE)
    group_size = np.bincount(group[in_cluster], minlength=n)
    untied = np.bincount(group[passes], minlength=n) == 0
    size = np.bincount(labels[in_cluster], minlength=int(labels.max()) + 1)
    of = size[np.maximum(labels, 0)]
    return in_cluster & untied[group] & (group_size[group] >= 2), rest, group_size[group], of


def self_tied_ties(
    inc: Incidence,
    labels: I64,
    tie: F64,
    similarity: F64,
    weights: dict[str, float],
    link_cap: int,
) -> F64:
    """`tie` (members' ties, into their network where their cluster is part of one), with what
    each owner group of a minority of its cluster (`labels`) shares among itself taken out
    where none of its members is tied to the rest (`split_self_tied`'s test, on the clusters
    as they are judged): membership confidence on the ban list.

    The peel splits such groups off, but judges them against the cluster the peel sees. On
    the `full` preset's graph with two 1% deltas (bench-incremental seed 57) Leiden put 5,744
    genuine accounts that share template bands among themselves with a 711-account network
    (25 of 5,284 units of weight between the two). Their ties to each other kept them through
    the peel, and 100 genuine couples among them (an account and its clone: card, address,
    device) tied to that web well enough to stay and to their partners at several units:
    confidence 0.7-0.93, and 250 genuine accounts on the ban list. Measured on what ties them
    to the rest of the cluster, they are under the gate with the web around them
    (`docs/detection.md`, "A group tied only through itself").

    The cluster, not the network: a network's own operation (`full` preset: `hydra-3`, 1,267
    accounts on cards shared in eights, its own templates and build) is one owner group, a
    minority of the network it shares exits with, and tied to the rest of that network by
    the exits alone; judged so, all of it fell under the gate. It is its whole cluster."""
    if not (labels >= 0).any():
        return tie
    group = owner_groups(inc, labels, link_cap)
    untied, rest, size, of = _untied_groups(inc, labels, group, tie, similarity, weights)
    return np.where(untied & (2 * size <= of), np.maximum(rest, 0.0), tie)


@dataclass
class _Shares:
    """Holders of each template, build or coincidence of them per (identifier, cluster, group)."""

    triple: I64  # rows of (identifier, cluster, group)
    triple_of: I64  # per behaviour row of the incidence, its triple
    in_group: I64  # per triple, holders in that group
    pair: I64  # per triple, its (identifier, cluster) pair
    in_cluster: F64  # per pair, holders in that cluster
    held: I64  # per behaviour row, the holder


def _shares(inc: Incidence, labels: I64, group: I64) -> _Shares:
    n, clusters = labels.size, int(labels.max()) + 1
    rows = inc.identifier_of_row
    lab = labels[inc.holders]
    is_behaviour = np.array(
        [any(part in BEHAVIOUR_LINKS for part in k.split(CONJUNCTION)) for k in inc.kinds]
    )
    behaviour = is_behaviour[inc.kind[rows]] & (lab >= 0)
    held = inc.holders[behaviour]
    # (identifier, cluster, group) as one integer key, in the same lexicographic order as the
    # rows of np.unique(axis=0), which sorts a structured view and was most of this function.
    if _triple_keys_fit(inc, clusters, n):
        # Counted per row range (`in_row_shards`): the keys lead with the identifier, so a
        # range's triples follow the one's before, numbered on from them.
        triple_of = np.empty(held.size, np.int64)

        def count(lo: int, hi: int) -> tuple[int, I64, I64]:
            mine = behaviour[lo:hi]
            start = int(np.count_nonzero(behaviour[:lo]))
            held_here = held[start : start + int(np.count_nonzero(mine))]
            key = (rows[lo:hi][mine] * clusters + labels[held_here]) * n + group[held_here]
            keys, _, counts = unique_runs(key, triple_of[start : start + held_here.size])
            return start, keys, counts

        counted = in_row_shards(inc, count)
        ends = [start for start, _, _ in counted[1:]] + [held.size]
        offset = 0
        for (start, keys, _), end in zip(counted, ends, strict=True):
            triple_of[start:end] += offset
            offset += keys.size
        keys = np.concatenate([keys for _, keys, _ in counted])
        in_group = np.concatenate([c for _, _, c in counted])
        del counted
        triple = np.column_stack([keys // n // clusters, keys // n % clusters, keys % n])
    else:  # a graph too large for one int64 key
        triple, triple_of, in_group = np.unique(
            np.column_stack([rows[behaviour], labels[held], group[held]]),
            axis=0, return_inverse=True, return_counts=True,
        )  # fmt: skip
    _, pair = np.unique(triple[:, 0] * clusters + triple[:, 1], return_inverse=True)
    in_cluster = np.bincount(pair, weights=in_group).astype(np.float64)
    return _Shares(triple, np.ravel(triple_of), in_group, pair, in_cluster, held)


def regrouped(shares: _Shares, to: I64, n: int) -> _Shares:
    """`shares` per group of accounts, as `_shares` counts them once each group `g` is merged
    into group `to[g]`: the same triples, counts and order, from the triples (~100x fewer than
    the rows: on a region of 16M rows the count again took 0.75 s). Groups only merge, so an
    (identifier, cluster) pair's holders are the same; a new triple's holders are the sum of
    the old ones it gathers."""
    ident, cluster, group = shares.triple[:, 0], shares.triple[:, 1], shares.triple[:, 2]
    clusters = int(cluster.max()) + 1 if cluster.size else 1
    keys, old_to_new, _ = unique_runs((ident * clusters + cluster) * n + to[group])
    in_group = np.bincount(old_to_new, weights=shares.in_group).astype(np.int64)
    triple = np.column_stack([keys // n // clusters, keys // n % clusters, keys % n])
    _, pair = np.unique(triple[:, 0] * clusters + triple[:, 1], return_inverse=True)
    return _Shares(
        triple, old_to_new[shares.triple_of], in_group, np.ravel(pair),
        np.bincount(np.ravel(pair), weights=in_group).astype(np.float64), shares.held,
    )  # fmt: skip


def factions(inc: Incidence, labels: I64, group: I64) -> tuple[I64, _Shares | None]:
    """Owner groups with the accounts that hold the templates and builds each group holds most
    of in its cluster, and the shares per faction (`regrouped` from the shares per owner group
    when an account joined a group: the bystander test reads them).

    A team's members are not all on its card from their first day: at refresh 84 of replay
    draw 3, 27 of a company's 36 accounts in a network's cluster shared its corporate card and
    the other 9 only its internal client build, so each side "shared behaviour with the rest of
    the cluster" (the other side) and 28 genuine accounts were flagged until the last of them
    added the card (`docs/detection.md`, "bystanders"). An identifier more than half of whose
    holders in a cluster are one owner group of two or more is that group's own (a team's
    build, its internal templates); an account of no owner group (a single) holding it joins
    that group's faction, or the one whose identifiers it holds most, if several. Groups are
    never joined to each other, nor through a single: one team member's prompt hashing into a
    band a network's card ring holds would carry the whole team into the network (draw 36:
    19 genuine accounts flagged when they were). A network's templates are held by many
    groups, none a majority, so they join nobody to anything."""
    if not (labels >= 0).any():
        return group, None
    n = labels.size
    shares = _shares(inc, labels, group)
    if not shares.triple.size:
        return group, shares
    size = np.bincount(group[labels >= 0], minlength=n)
    # Per pair, its largest group (first in order: pair, then most holders).
    order = np.lexsort((-shares.in_group, shares.pair))
    first = order[np.r_[True, np.diff(shares.pair[order]) != 0]]
    owner = np.full(shares.in_cluster.size, -1, np.int64)
    top = shares.triple[first, 2]
    owned = (2 * shares.in_group[first] > shares.in_cluster[shares.pair[first]]) & (size[top] >= 2)
    owner[shares.pair[first][owned]] = top[owned]
    to = owner[shares.pair]
    joins = (to >= 0) & (size[shares.triple[:, 2]] == 1)
    if not joins.any():
        return group, shares
    # Each single joins the owner of most of what it holds (ties: the larger group).
    pairs, counts = np.unique(shares.triple[joins, 2] * n + to[joins], return_counts=True)
    single, target = pairs // n, pairs % n
    pick = np.lexsort((-size[target], -counts, single))
    pick = pick[np.r_[True, np.diff(single[pick]) != 0]]
    faction = np.arange(n, dtype=np.int64)
    faction[single[pick]] = target[pick]
    if not _triple_keys_fit(inc, int(labels.max()) + 1, n):
        return faction[group], None  # a graph too large for one int64 key: counted again
    return faction[group], regrouped(shares, faction, n)


def split_bystanders(inc: Incidence, labels: I64, link_cap: int, group: I64 | None = None) -> I64:
    """Split off each faction of a cluster that joined it through a shared place only.

    Factions are the accounts of a cluster tied by owner identifiers (a household's card, a
    team's corporate card and address) and the templates and builds such a group holds most of
    (`factions`). A faction that is a minority of its cluster and in which fewer than half the
    members share a template or client build (alone or in a coincidence) with the rest of it
    does nothing the way the rest does: a company team on the same coworking NAT and email
    domain as a network, whose camouflage makes its capability mix look alike, and two of whose
    members' prompts once hashed into one of the network's bands. It becomes a cluster of its
    own. A network is never split by this: its groups use its templates and builds throughout,
    and a network bound by owner identifiers throughout is one group, a majority.
    `group`: `owner_groups` of these labels, when the caller has them.
    """
    in_cluster = labels >= 0
    if not in_cluster.any():
        return labels
    n, clusters = labels.size, int(labels.max()) + 1
    if group is None:
        group = owner_groups(inc, labels, link_cap)
    group, shares = factions(inc, labels, group)
    if shares is None:
        shares = _shares(inc, labels, group)
    triple, held = shares.triple, shares.held
    size = np.bincount(labels[in_cluster], minlength=clusters)
    group_size = np.bincount(group[in_cluster], minlength=n)
    # A group shares an identifier with the rest of its cluster when the rest holds more of it
    # than chance puts there: the rest's share of the population holding it by chance is
    # Poisson with mean degree x rest / population, tested at the 1e-6 of `chance_floor`. A
    # template band a fake holds by chance (16-bit bands: a network's thousands of bit-flipped
    # variants hit some of a company team's public-template bands) is not shared behaviour; the
    # network's own templates, held by hundreds of the rest, are.
    rest = shares.in_cluster[shares.pair] - shares.in_group
    expected = inc.degree[triple[:, 0]] * (size[triple[:, 1]] - group_size[triple[:, 2]])
    mean = expected / max(inc.population, 1)
    # The quantile is above the mean (a Poisson's median is at least its mean less ln 2), so
    # only counts over the mean are tested: the quantiles of every triple's mean were 1 s a
    # call at full usage.
    over = np.flatnonzero(rest > mean)
    above = np.zeros(rest.size, bool)
    above[over] = rest[over] >= chance_floors(mean[over])
    # A group shares behaviour with the rest when at least half of its members hold such an
    # identifier: a network's members act alike by design, so its card ring or household-like
    # group holds its templates throughout; a company team that shares a place with a network
    # and whose two members' prompts collided with one of its bands once does not.
    holds = np.zeros(n, bool)
    holds[held[above[shares.triple_of]]] = True
    sharing = np.bincount(group[holds & in_cluster], minlength=n)
    shared = 2 * sharing >= np.maximum(group_size, 1)
    bystander = in_cluster & ~shared[group] & (2 * group_size[group] < size[np.maximum(labels, 0)])
    return np.where(bystander, clusters + group, labels).astype(np.int64)


def _peel(
    inc: Incidence,
    matrix: sparse.csr_matrix,
    labels: I64,
    table: dict[str, F64],
    params: Params,
    weights: dict[str, float],
) -> I64:
    """Split each community into the core tied to it by what they share and behave alike, and
    the periphery (e.g. a reseller's genuine customers on the same exits), re-scored apart.
    Repeats: once the loosest members are gone, the next layer's ties shrink too. What the
    peel leaves disconnected from its cluster is split off (`connected`)."""
    tie: F64 | None = None  # of `labels` as they are, when a round found nothing to peel
    for _ in range(PEEL_ROUNDS):
        tie = tie_strength(inc, labels, weights)
        periphery = (labels >= 0) & (
            confidence(tie, behaviour_similarity(table, labels)) < CORE_CONFIDENCE
        )
        if not periphery.any():
            break
        peeled = np.where(periphery, labels + int(labels.max()) + 1, labels)
        peeled = relabel(connected(matrix, peeled), params.min_cluster_size)
        if np.array_equal(peeled, labels):
            # A periphery that comes back as it was (peeled off, then dissolved or reunited
            # with its cluster) is the periphery of every later round too: `tie` is theirs.
            break
        tie, labels = None, peeled
    group = owner_groups(inc, labels, params.link_cap)
    # The last round's tie, when it peeled nothing, is the self-tied split's: one of the
    # refresh's eight tie measurements (~1 s each on a region at full usage) fewer.
    labels = split_self_tied(
        inc, labels, params.link_cap, table, weights, group, params.min_cluster_size, tie
    )
    # The self-tied split moves whole owner groups (an owner identifier's holders in a cluster
    # are one group), so the groups are the same ones.
    labels = split_bystanders(inc, labels, params.link_cap, group)
    return relabel(labels, params.min_cluster_size)


# Two clusters are parts of one network when the link weight between them is at least
# NETWORK_LIFT of what modularity's null model expects there (k_c x k_d / 2m) and at least
# NETWORK_SHARE of the smaller one's weight. Why: Leiden merges two groups only when the weight
# between them exceeds the null model's (lift above 1 at resolution 1); a network holding a
# sizeable share of the graph's weight (a 15,000-account hydra is a fifth of it) is split into
# parts whose lift sits just under 1 (0.72-1.01 on the robustness draws), the resolution limit.
# Clusters of different networks, or a network and the genuine users beside it, share almost
# nothing (lift 0.00-0.06). Half of the null model is far from both; the share keeps a few
# stray edges between two small clusters from joining them. Flagged clusters so tied share a
# network id. To be scored together (kin), both must also keep at least COHESION of their own
# weight inside, the weak-community bar (Radicchi et al., 2004: more weight inside than out):
# a network cut by the resolution limit keeps 0.66-0.98 of each part's weight inside; a
# loosely knit genuine cluster (a coworking space's tenants, say: 0.11-0.35 inside on draws 11
# and 13) is tied to everything around it with a lift in the hundreds, because it is small,
# and pooling its templates with its neighbours' would score it as what it is not.
NETWORK_LIFT = 0.5
NETWORK_SHARE = 0.01
COHESION = 0.5


def cluster_ties(
    matrix: sparse.csr_matrix, labels: I64, total_weight: float | None = None
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Pairs (c, d), c < d, of clusters tied as the parts of one network are (NETWORK_LIFT,
    NETWORK_SHARE), flagged or not, as an (n, 2) array; and per cluster, whether it keeps
    COHESION of its weight inside: two such clusters tied are kin, scored together.
    `networks` groups flagged clusters by every pair. `total_weight`: the whole graph's, when
    `matrix` is a region's (`Snapshot.total_weight`)."""
    n_c = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if n_c < 2:
        return np.zeros((0, 2), np.int64), np.ones(n_c, bool)
    ok = labels >= 0
    member = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (np.flatnonzero(ok), labels[ok])), shape=(labels.size, n_c)
    )
    between = (member.T @ matrix @ member).tocoo()
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    k = np.bincount(labels[ok], weights=strength[ok], minlength=n_c)
    two_m = max(total_weight or float(strength.sum()), 1e-12)
    c, d, w = between.row.astype(np.int64), between.col.astype(np.int64), between.data
    inside = np.zeros(n_c)
    inside[c[c == d]] = w[c == d]
    cohesive = inside >= COHESION * k
    tied = (
        (c < d)
        & (w >= NETWORK_LIFT * k[c] * k[d] / two_m)
        & (w >= NETWORK_SHARE * np.minimum(k[c], k[d]))
    )  # fmt: skip
    return np.column_stack([c[tied], d[tied]]), cohesive


def network_groups(between: Quotient, seed: int, scale: float = 1.0) -> I64:
    """Per cluster, its group of clusters that are parts of one network (numbered from 0; a
    cluster alone is a group of its own): the partition that maximises modularity at
    resolution NETWORK_LIFT with the
    clusters' outside weight as the null model, each cluster keeping at least NETWORK_SHARE
    of its weight towards the rest of its group. `between`: the projection summed over the
    clusters, places left out (`operator_weights`); `scale`: the whole graph's weight over
    the region's, on a region (as Leiden's resolution is scaled).

    Why groups, and why that null model. A hydra the peel cut into card rings keeps a
    quarter of each ring's weight outside it, spread over thousands of rings of the same
    network: no pair of rings passes `cluster_ties`' share test (0.03% of a ring's weight per
    pair on draw 51) though all of the ring's outside weight goes to its network. Against the
    whole graph's weight (`cluster_ties`' null model), parts of a network holding half the
    graph's weight are tied at a lift of about (share of weight outside a part) / (the
    network's share of the graph): 0.31 on draw 51, the resolution limit again. Against the
    weight that leaves clusters at all, parts of one network that mix at random are tied at a
    lift of at least 1 however large the network (3.2 there; that hydra and the other
    networks 0.03-0.66). A small network with little outside weight reaches a lift of up to
    87 with another on a few stray edges; the share test keeps it apart (its share of weight
    towards other networks 0.000-0.005).
    Modularity judges a merge against what the groups' weights expect, so one cluster
    holding accounts of two networks does not join them, as chaining pairs would."""
    n_c = between.strength.size
    parts = np.arange(n_c, dtype=np.int64)
    if n_c < 2:
        return parts
    out = np.maximum(between.strength - between.inside, 0.0)
    total_out = max((between.total - float(between.inside.sum())) * scale, 1e-12)
    sub = between.between.tocoo()
    upper = sub.row < sub.col
    c, d, w = sub.row[upper], sub.col[upper], sub.data[upper]
    if c.size:
        graph = ig.Graph(n=n_c, edges=list(zip(c.tolist(), d.tolist(), strict=True)))
        ig.set_random_number_generator(random.Random(seed))  # noqa: S311
        try:
            parts = np.asarray(
                graph.community_leiden(
                    objective_function="CPM", weights=w.tolist(), node_weights=out.tolist(),
                    resolution=NETWORK_LIFT / total_out, n_iterations=-1,
                ).membership, np.int64,
            )  # fmt: skip
        finally:
            ig.set_random_number_generator(random)
    sym = between.between
    own = between.strength
    for _ in range(PEEL_ROUNDS):
        n_g = int(parts.max()) + 1
        onehot = sparse.csr_matrix((np.ones(parts.size), (np.arange(parts.size), parts)),
                                   shape=(parts.size, n_g))  # fmt: skip
        rest = np.asarray((sym @ onehot)[np.arange(parts.size), parts]).ravel()
        loose = (rest < NETWORK_SHARE * own) & (np.bincount(parts)[parts] > 1)
        if not loose.any():
            break
        parts = np.unique(np.where(loose, n_g + np.arange(parts.size), parts),
                          return_inverse=True)[1].astype(np.int64)  # fmt: skip
    return parts


def group_pairs(group: I64, among: npt.NDArray[np.bool_]) -> I64:
    """(c, d) pairs chaining the clusters of each group that are `among`: what `kin_groups`
    and `networks` need to see them as one."""
    chosen = np.flatnonzero(among)
    order = chosen[np.argsort(group[chosen], kind="stable")]
    same = group[order[1:]] == group[order[:-1]]
    return np.column_stack([order[:-1][same], order[1:][same]]).astype(np.int64)


def operator_weights(weights: dict[str, float]) -> dict[str, float]:
    """`weights` with places (exits, subnets, email domains, and their coincidences with each
    other) at zero: what ties the parts of one network together. Two hydras on one proxy
    reseller's exits share places, not an operator: on draw 51, 73% of a 2,044-account
    hydra's outside weight went to a 14,137-account one over the reseller's exits, and none
    once places are left out. Where an account is says nothing of who runs it
    (`membership_weights`)."""
    return {kind: 0.0 if set(kind.split(CONJUNCTION)) <= PLACE_LINKS else w
            for kind, w in weights.items()}  # fmt: skip


def kin_groups(ties: I64, n_c: int) -> I64:
    """Per cluster, its group of clusters connected by `ties` (a cluster alone is its own)."""
    graph = sparse.csr_matrix((np.ones(len(ties)), (ties[:, 0], ties[:, 1])), shape=(n_c, n_c))
    return np.asarray(sparse.csgraph.connected_components(graph, directed=False)[1], np.int64)


def kin_heads(ties: I64, ids: list[str]) -> list[str]:
    """Per cluster, the smallest id in its kin group, "" when it has no kin: a name for the
    group that no other group can have, so the next refresh finds the group's parts by it."""
    group = kin_groups(ties, len(ids))
    heads: dict[int, str] = {}
    for c, g in enumerate(group.tolist()):
        heads[g] = min(heads.get(g, ids[c]), ids[c])
    sizes = np.bincount(group, minlength=len(ids)) if len(ids) else np.zeros(0, np.int64)
    return [heads[g] if sizes[g] > 1 else "" for g in group.tolist()]


def networks(
    ties: I64, flagged: npt.NDArray[np.bool_], split_from: Sequence[tuple[int, int]] = ()
) -> I64:
    """Per cluster, the network it is part of (-1 unless flagged): connected groups of flagged
    clusters tied as the parts of one network are (`cluster_ties`, `network_groups`' pairs:
    `ties`), or split in this refresh from one cluster (`split_from`: (cluster, the cluster
    holding its parent's id) pairs). Ban tooling gets one network id for a hydra Leiden
    split, and it stays while the parts reshuffle: a network tied only by templates and timing
    that comes back in two parts (a template band its new members pushed over the link cap)
    is still the network it was."""
    n_c = flagged.size
    out = np.full(n_c, -1, np.int64)
    if not flagged.any():
        return out
    pairs = np.concatenate([ties, np.asarray(list(split_from), np.int64).reshape(-1, 2)])
    both = flagged[pairs[:, 0]] & flagged[pairs[:, 1]]
    component = kin_groups(pairs[both], n_c)
    _, out[flagged] = np.unique(component[flagged], return_inverse=True)
    return out


# An identifier is one operator's when at least this share of its holders are in flagged
# clusters (`owned_groups`) or in one flagged network (`owned_build_ties`): what it leaves out
# is room for the operator's newest accounts, in no cluster yet (a 5% delta of new members
# leaves up to ~5% of a network's holders outside), not for genuine holders.
OWNED_SHARE = 0.9
# Kinds whose values one operator can hold alone above the link cap: its own client build, a
# card or device farm. Not template bands (a 16-bit slice of a SimHash: two networks' templates
# share band values by chance) and not places (two networks on one reseller share its exits).
OWNED_KINDS = OWNER_LINKS | {BUILD_KIND}
# Two such identifiers are one population's when flagged clusters hold them in the same
# proportions (cosine of their holder counts per cluster): builds handed out to a network's
# accounts at random are spread alike over whatever clusters Leiden cut it into (0.9997 on draw
# 60); two networks' builds meet, if at all, in a cluster that holds both networks (0.0-0.3).
OWNED_ALIKE = 0.9


def owned_groups(
    inc: Incidence, labels: I64, flagged: npt.NDArray[np.bool_], weights: dict[str, float],
    link_cap: int,
) -> I64:  # fmt: skip
    """Pairs (c, d) of flagged clusters that are parts of one network by identifiers above the
    link cap that flagged clusters hold nearly alone (OWNED_SHARE of their holders): what
    `networks` adds to the parts' ties, for network ids only.

    The cap treats "held by many" as "common". An identifier held by more accounts than the
    cap, nearly all of them in flagged clusters, is not common: it is one operator's. A
    behaviour-only network of 418 accounts on three templates and two client builds of 206 and
    212 holders, every holder its own, came back as three clusters of 135-143, one per template,
    each holding half of each build, and under three network ids (draw 60): its builds, the
    only thing spanning the three, were over the cap by a few accounts. Only flagged clusters
    are tied, and only for their network id (and the confidence measured over the whole
    network that follows): no risk and no cluster changes.

    Such identifiers held alike (OWNED_ALIKE) are one population, and a cluster is its part
    when at least half its members hold one of them: a cluster holding two networks' accounts
    (on a shared reseller) holds both networks' builds, and chaining every cluster a build
    reaches would give the two networks one id; it is a part of the one most of it holds."""
    n_c = flagged.size
    if not flagged.any():
        return np.zeros((0, 2), np.int64)
    ident = inc.identifier_of_row
    lab = labels[inc.holders]
    in_flagged = (lab >= 0) & flagged[np.maximum(lab, 0)]
    share = np.bincount(ident, weights=in_flagged, minlength=inc.degree.size) / np.maximum(
        inc.degree, 1
    )
    kind_ok = np.array([k in OWNED_KINDS and weights.get(k, 0.0) > 0 for k in inc.kinds], bool)
    capped = inc.degree > link_cap
    if inc.uncapped is not None:
        capped &= ~inc.uncapped
    owned = np.flatnonzero(capped & kind_ok[inc.kind] & (share >= OWNED_SHARE))
    if not owned.size:
        return np.zeros((0, 2), np.int64)
    index = np.full(inc.degree.size, -1, np.int64)
    index[owned] = np.arange(owned.size)
    rows = np.flatnonzero((index[ident] >= 0) & in_flagged)
    which, holder = index[ident[rows]], inc.holders[rows]
    counts = sparse.csr_matrix(
        (np.ones(rows.size), (which, lab[rows])), shape=(owned.size, n_c)
    )  # duplicates summed: holders per identifier and cluster
    norm = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    unit = sparse.diags(1.0 / np.maximum(norm, 1e-12)) @ counts
    alike = (unit @ unit.T).tocoo()
    keep = alike.data >= OWNED_ALIKE
    population = kin_groups(np.column_stack([alike.row[keep], alike.col[keep]]), owned.size)
    # Members of each cluster holding any identifier of each population, each counted once.
    held = np.unique(np.column_stack([holder, population[which]]), axis=0)
    member_cluster = labels[held[:, 0]]
    per = np.unique(np.column_stack([member_cluster, held[:, 1]]), axis=0, return_counts=True)
    (cluster, pop), holding = per[0].T, per[1]
    size = np.bincount(labels[labels >= 0], minlength=n_c)
    part = holding >= 0.5 * size[cluster]
    cluster, pop = cluster[part], pop[part]
    order = np.lexsort((cluster, pop))
    cluster, pop = cluster[order], pop[order]
    same = pop[1:] == pop[:-1]
    return np.column_stack([cluster[:-1][same], cluster[1:][same]]).astype(np.int64)


def owned_build_ties(
    inc: Incidence, whole: I64, flagged: npt.NDArray[np.bool_], labels: I64, positions: I64,
    weights: dict[str, float],
) -> F64:  # fmt: skip
    """Per account: what its tie gains from a client build its flagged network holds alone
    (OWNED_SHARE of the build's holders are the network's), counted as an owner identifier
    (the strongest owner kind's weight) in place of a behaviour one, for members that send the
    network's own templates (a band position of them, `positions`).

    A client build that one operator's accounts hold and nobody else does marks who runs them
    as a shared device does; weighed as behaviour (a popular build is held by thousands), it
    left members of a pure behaviour-only network under the ban gate. Draw 39's 363-account
    network came back as one cluster of its own at risk 0.83, and 34 members holding its build
    (169 and 173 holders, all its own) and two to five of its template bands, with three or
    four exchanges each, had ties of 0.96-1.68 and confidence 0.56-0.69: 0.901 of it flagged.
    The templates are what says a member works for the network: a company's own build inside
    a network's cluster (a team on a coworking network's NAT) is held by nobody else either,
    and marks the team, whose members send none of the network's templates."""
    out = np.zeros(inc.accounts)
    if BUILD_KIND not in inc.kinds or not flagged.any():
        return out
    ident = inc.identifier_of_row
    rows = np.flatnonzero(inc.kind[ident] == inc.kinds.index(BUILD_KIND))
    holder = inc.holders[rows]
    lab = labels[holder]
    member = (lab >= 0) & flagged[np.maximum(lab, 0)]
    ok = member & (positions[holder] >= 1)
    if not ok.any():
        return out
    # Holders of each build in each network, over every member (templates or not).
    width = int(whole.max()) + 1
    keys, counts = np.unique(ident[rows[member]] * width + whole[holder[member]],
                             return_counts=True)  # fmt: skip
    mine = ident[rows[ok]] * width + whole[holder[ok]]
    held = counts[np.searchsorted(keys, mine)]
    alone = held >= OWNED_SHARE * inc.degree[ident[rows[ok]]]
    owner = max(weights.get(k, 0.0) for k in OWNER_LINKS)
    out[holder[ok][alone]] = max(owner - weights.get(BUILD_KIND, 0.0), 0.0)
    return out


def vouched(labels: I64, network: I64, confirmed: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per account, whether its cluster is one an analyst confirmed or in such a cluster's
    network: where the verdict is already given, and a member's thin behaviour (one exchange,
    one capability) is not held against it.

    A regrowth account's first exchange is one capability: its cosine to the network's mix is
    0.15-0.19 although it holds the confirmed network's device, templates and client build, so
    its confidence stays under the ban gate for a refresh (replay draw 2, `docs/detection.md`).
    Elsewhere thin behaviour keeps counting: the cluster's verdict is only the model's, and the
    behaviour term is what keeps a flagged cluster's light genuine members off the ban list."""
    if not confirmed.any():
        return np.zeros(labels.size, bool)
    heads = np.unique(network[confirmed & (network >= 0)])
    cluster_vouched = confirmed | np.isin(network, heads[heads >= 0])
    return (labels >= 0) & cluster_vouched[np.maximum(labels, 0)]


# At how many of a prompt SimHash's four band positions a member must hold bands mostly its own
# network holds for its prompts to count as the network's templates (`own_templates`). One is
# what a hash collision gives: a genuine prompt whose band lands on a value a network holds
# (16 bits; a network's bit-flipped variants cover thousands of values). Two independent 16-bit
# matches with one network do not happen by chance; a network's template variant with 1-3
# flipped bits still matches at one position or more, and a member with a few such exchanges
# at two or more.
TEMPLATE_POSITIONS = 2


def own_templates(labels: I64, positions: I64) -> npt.NDArray[np.bool_]:
    """Per account, whether its prompts are its network's own templates
    (`scoring.tie_and_template_positions`): then its behaviour is the network's however few
    exchanges its capability mix rests on, and thin behaviour is not held against it, as in a
    confirmed network (`vouched`).

    A member of a 14,189-account prepaid network with three exchanges has a capability mix
    whose cosine to its network's is 0.12-0.4 (two exchanges of one capability against a mix
    of six), though its eight template bands sit at all four positions in bands 99% of whose
    holders are that network: 103 such members stayed under the ban gate on fresh draw 53
    (`docs/detection.md`, "Thin behaviour on a network's own templates"). The same prior for
    every member put 9 and 11 genuine accounts on the ban list on draws 22 and 25 (one
    exchange, a household's card and public template bands, which mostly genuine accounts
    outside the cluster hold); this puts none there."""
    return (labels >= 0) & (positions >= TEMPLATE_POSITIONS)


def regrowth(
    assignment: Assignment, network: I64, confirmed: npt.NDArray[np.bool_], sizes: list[int]
) -> list[ClusterEvent]:
    """A `regrown` event for each cluster new in this refresh (created or split) whose network
    holds a cluster an analyst confirmed: the operator came back on part of the same
    infrastructure, and ban tooling acts on it under the verdict it already has
    (`network_confirmed`). `related`: the confirmed clusters."""
    new_now = {e.cluster_id for e in assignment.events if e.type in ("created", "split")}
    events = []
    for c, cid in enumerate(assignment.ids):
        if cid not in new_now or confirmed[c] or network[c] < 0:
            continue
        heads = [assignment.ids[d] for d in np.flatnonzero((network == network[c]) & confirmed)]
        if heads:
            events.append(ClusterEvent("regrown", cid, sorted(heads), 0, sizes[c]))
    return events


def attachable(inc: Incidence, labels: I64, weights: dict[str, float]) -> npt.NDArray[np.bool_]:
    """Accounts in no community whose tie to one could pass the attachment bar even with
    identical behaviour: whose features `attach` will need, read with the members'."""
    best, tie = best_ties(inc, labels, weights, labels < 0)
    return (best >= 0) & (confidence(tie, np.ones(tie.size)) >= CORE_CONFIDENCE)


def attach(
    inc: Incidence,
    labels: I64,
    table: dict[str, F64],
    weights: dict[str, float],
    eligible: npt.NDArray[np.bool_],
    min_size: int,
) -> tuple[I64, int, int]:
    """The peel's counterpart: an account in no cluster joins the cluster it is most tied to
    when its tie and behaviour would keep it there through the peel (confidence at least
    CORE_CONFIDENCE, the same bar); so does a member below that bar in its own cluster (it
    moves). Returns the labels, how many joined and how many moved.

    Leiden only sees the projection, and an account whose identifiers all sit above the link
    cap (a template band and a client build held by hundreds of its network, a fresh card, an
    exit no one else used) has no link in it however much of what it holds is the network's.
    Its tie, measured the way the peel measures members', says it belongs. The same holds for
    a few dozen such accounts Leiden put with a company's on the subnets they share: the peel
    leaves them together in a periphery where nobody is confident (a behaviour-only network on
    draw 22, `docs/detection.md`: ties of 16-33 to its network, under the bar where it sat). One
    round, against the clusters as the peel left them: joining accounts do not pull others in.
    A cluster left under `min_size` dissolves, as the peel's leftovers do.

    `eligible`: accounts whose features were read (`attachable` and the communities' members).
    """
    own = confidence(tie_strength(inc, labels, weights), behaviour_similarity(table, labels))
    loose = (labels < 0) | (own < CORE_CONFIDENCE)
    best, tie = best_ties(inc, labels, weights, eligible & loose)
    sim = behaviour_similarity(table, labels, towards=best)
    joins = (best >= 0) & (best != labels) & (confidence(tie, sim) >= CORE_CONFIDENCE)
    moved = int((joins & (labels >= 0)).sum())
    out = np.where(joins, best, labels)
    return relabel(out, min_size), int(joins.sum()) - moved, moved


def join_groups(
    inc: Incidence,
    labels: I64,
    group: I64,
    weights: dict[str, float],
    free: npt.NDArray[np.bool_],
    read: Callable[[npt.NDArray[np.bool_]], tuple[dict[str, F64], I64]],
) -> tuple[I64, int, tuple[dict[str, F64], I64] | None]:
    """`attach` against groups of clusters (`network_groups`) instead of single clusters: an
    account in no cluster (`free`) whose tie to a group as a whole, measured with
    `weights`, and its behaviour against the group's mix would keep it there through the
    peel (CORE_CONFIDENCE) joins the group's cluster it is most tied to (its largest when no
    single one holds a tie). `read`: the inputs of the accounts given and of those already
    read (asked once the candidates are known). Returns the labels, how many joined and the
    inputs read for them (None when none was)."""
    n_c = group.size
    multi = np.bincount(group, minlength=n_c)[group] > 1 if n_c else np.zeros(0, bool)
    if not multi.any():
        return labels, 0, None
    cluster = np.maximum(labels, 0)
    of = np.where((labels >= 0) & multi[cluster], group[cluster], -1)
    best, tie = best_ties(inc, of, weights, free & (labels < 0))
    candidates = (best >= 0) & (confidence(tie, np.ones(tie.size)) >= CORE_CONFIDENCE)
    if not candidates.any():
        return labels, 0, None
    inputs = read(candidates)
    sim = behaviour_similarity(inputs[0], of, towards=best)
    joins = candidates & (confidence(tie, sim) >= CORE_CONFIDENCE)
    if not joins.any():
        return labels, 0, inputs
    in_group = np.where(labels >= 0, labels, -1)
    near, _ = best_ties(inc, in_group, weights, joins)
    ok = (near >= 0) & (group[np.maximum(near, 0)] == best)
    sizes = np.bincount(labels[labels >= 0], minlength=n_c)
    largest = np.full(int(group.max()) + 1, -1, np.int64)
    order = np.lexsort((-np.arange(n_c), sizes))
    largest[group[order][multi[order]]] = order[multi[order]]
    out = labels.copy()
    out[joins] = np.where(ok[joins], near[joins], largest[best[joins]])
    return out, int(joins.sum()), inputs


def newcomer_ties(
    inc: Incidence, labels: I64, newcomer: npt.NDArray[np.bool_], weights: dict[str, float]
) -> F64:
    """Per account: the part of its tie (`tie_strength` with `labels`) that runs through
    owner identifiers it holds with other `newcomer`s of its community: accounts that
    `attach` or the group join brought in, beside it, in this refresh.

    Those two join accounts to clusters as the peel left them, so that joining accounts do not
    pull others in; measured after they joined, a newcomer's card or address held with another
    newcomer counted as a tie into the cluster all the same. On replay draw 5 a company's pair
    on one card, on a coworking network's NAT and email domain, was split off as bystanders,
    joined back one by one on the place (the attachment bar), and then tied to the cluster at
    2.64 by its own card and address: confidence 0.84-0.86, on the ban list at four refreshes
    (`docs/detection.md`, "Known limits"). What a newcomer shares only with other newcomers
    says nothing about the cluster it joined."""
    out = np.zeros(inc.accounts)
    # Newcomers' rows first (a few thousand): no array of the incidence's 18.4M rows is made
    # at full usage, where the refresh's peak memory is within ~240 MiB of its 4 GiB target.
    sel = np.flatnonzero(newcomer[inc.holders])
    rows = inc.identifier_of_row[sel]
    owner = np.array([k in OWNER_LINKS for k in inc.kinds], bool)[inc.kind[rows]]
    keep = owner & (labels[inc.holders[sel]] >= 0)
    sel, rows = sel[keep], rows[keep]
    if not sel.size:
        return out
    n_comm = int(labels.max()) + 1
    _, at, counts = unique_runs(rows * n_comm + labels[inc.holders[sel]])
    base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind[rows]]
    term = base * (counts[at] - 1) / inc.spread_of_row[sel]
    out += np.bincount(inc.holders[sel], weights=term, minlength=inc.accounts)
    return out


def whole_networks(labels: I64, network: I64) -> I64:
    """Per account, its cluster, or its network (numbered after the clusters) when its cluster
    is part of one: what a member's tie is measured against for its confidence.

    A network Leiden cut in parts holds its templates and client build across all of them: a
    member of a 116-account part of a 3,864-account behaviour-only network finds 4-7% of a
    template band's holders inside the part and nearly all inside the network (draw 22,
    `docs/detection.md`: median confidence 0.65 in the part, under the ban gate). Measured
    over the part, the gate penalises a member for being one of many; over the network it
    sees what ban tooling acts on, one network id. A cluster's own members' ties
    can only grow by it, and only in flagged clusters (only they have a network)."""
    n_clusters = network.size
    if not n_clusters:
        return labels
    part_of = np.where(network >= 0, n_clusters + network, np.arange(n_clusters))
    return np.where(labels >= 0, part_of[np.maximum(labels, 0)], -1).astype(np.int64)


def membership_weights(weights: dict[str, float]) -> dict[str, float]:
    """`weights` with the coincidences of two places (`conjunctions`) at zero: what a member's
    tie is measured with for its confidence.

    A coworking NAT used by one email domain links the network working from it (draw 0's
    4,221-account network came back whole through it, `docs/detection.md`), but as a member's
    tie it is the same place counted a second and a third time (domain and NAT, domain and
    /24, NAT and /24). On replay draw 3, 27 genuine accounts of the company whose domain and
    NAT a network used, with no card, template or exchange of their own, were tied to it at
    1.55 (0.77 without the coincidences) and flagged at confidence 0.71. Where an account
    is says nothing of who runs it; a place's coincidence with a template or a build does."""
    return {
        kind: 0.0 if CONJUNCTION in kind and set(kind.split(CONJUNCTION)) <= PLACE_LINKS else w
        for kind, w in weights.items()
    }


def majority(labels: I64, community: I64, n_clusters: int) -> I64:
    """Per cluster, the community most of its members were in (-1 if none was in one). The
    peel only splits communities; `attach` adds accounts from none or moves a few from
    another, so the majority is the community the cluster was peeled from."""
    out = np.full(n_clusters, -1, np.int64)
    ok = (labels >= 0) & (community >= 0)
    if not ok.any():
        return out
    pairs, counts = np.unique(
        np.column_stack([labels[ok], community[ok]]), axis=0, return_counts=True
    )
    order = np.lexsort((-counts, pairs[:, 0]))
    first = order[np.r_[True, np.diff(pairs[order, 0]) != 0]]
    out[pairs[first, 0]] = pairs[first, 1]
    return out


def detect(snapshot: Snapshot, previous: Previous, params: Params) -> Detection:
    """The refresh's model on `snapshot`, starting where `previous` left off.

    A cold start (nothing to warm-start Leiden from: the first refresh after `make demo` or a
    backfill) settles: the stages run again from the clusters and partition the first run
    found, as the next refresh would start, and the second result is the refresh's. From
    singletons, Leiden and the peel can leave a network tied only by identifiers over the link
    cap in fragments: fresh draw 96's 3,162-account behaviour-only network was 0.833 flagged at
    the first refresh and 1.000 at the next; settled, 1.000 at the first (`docs/detection.md`,
    "A cold start settles"). The projection is computed once; identity is the second run's,
    against `previous`, so the change feed sees one refresh."""
    seconds: dict[str, float] = {}
    score_parts: dict[str, float] = {}
    with timed(seconds, "projection"):
        # Coincidences of common identifiers link too (see `conjunctions`); scores and
        # evidence read the identifiers themselves.
        linked, weights = conjunctions(snapshot.incidence, params.kind_weights, params.link_cap)
        matrix = project(
            linked, weights, params.link_cap, params.exact_max, params.sample_rounds, params.seed
        )
    start = previous_labels(previous, snapshot.node_ids)
    projected = (linked, weights, matrix)
    result = _detect(snapshot, previous, params, projected, start, seconds, score_parts)
    if not (start >= 0).any():
        settled = previous_labels(Previous.after(result, snapshot.node_ids), snapshot.node_ids)
        if (settled >= 0).any():
            del result  # freed for the second run's arrays (its peak is the refresh's)
            result = _detect(snapshot, previous, params, projected, settled, seconds, score_parts)
    return result


def _detect(
    snapshot: Snapshot,
    previous: Previous,
    params: Params,
    projected: tuple[Incidence, dict[str, float], sparse.csr_matrix],
    initial: I64,
    seconds: dict[str, float],
    score_parts: dict[str, float],
) -> Detection:
    """`detect` from Leiden on, started from `initial` (`previous_labels`)."""
    inc, node_ids = snapshot.incidence, snapshot.node_ids
    linked, weights, matrix = projected

    def stage(name: str) -> AbstractContextManager[None]:
        return timed(seconds, name)

    weight = float(matrix.sum())
    strengths = np.asarray(matrix.sum(axis=1), np.float64).ravel()
    weighed = None  # strengths for Leiden's null model other than the row sums
    resolution = params.resolution
    if snapshot.total_weight:
        # Modularity's null model expects weight k_i k_j / 2m between two accounts; on a region
        # m is the region's, so the same resolution would split what the whole graph keeps
        # together. Scaling it by the region's share of the whole keeps the objective the one
        # the full refresh optimises (exactly so when the region is a union of components).
        # Not so for k: an account keeps only its edges into the region. On fresh draw 211 a
        # genuine cluster's accounts kept 46% of their strength, the weight expected between
        # it and a behaviour-only network fell from 2.6 to 1.0, and the region's Leiden merged
        # them: 761 genuine accounts banned until the next full refresh (630 with the whole
        # graph's strengths; the rest is `banned_bystanders`'s; `docs/detection.md`,
        # "Incremental refresh"). So a region weighs pairs by the whole graph's strengths the
        # last refresh recorded (`Partition.strengths`), its own where larger (new accounts).
        if previous.partition is not None and previous.partition.strengths is not None:
            known = previous.partition.strengths_of(node_ids)
            if (known > strengths).any():
                weighed = strengths = np.maximum(strengths, known)
        held = weight if weighed is None else float(weighed[np.diff(matrix.indptr) > 0].sum())
        resolution *= held / snapshot.total_weight
    with stage("communities"):
        warm = bool((initial >= 0).any())
        labels = leiden(
            matrix, resolution, params.seed, initial=initial,
            iterations=params.leiden_iterations if warm else params.cold_iterations,
            groups=snapshot.groups, strengths=weighed,
        )  # fmt: skip
        communities = int(labels.max()) + 1 if labels.size else 0
        frozen = snapshot.frozen if snapshot.frozen is not None else np.zeros(labels.size, bool)
        labels = relabel(np.where(frozen, -1, labels), params.min_cluster_size)
    with stage("scores"):
        community = labels.copy()  # before the peel: the next refresh's warm start
        read = ((labels >= 0) | attachable(linked, labels, weights)) & ~frozen
        with timed(score_parts, "inputs"):
            table, shape = snapshot.features(np.flatnonzero(read))
        # What chance had to work with where template bands match (`band_consistency`).
        linked = linked.with_prompts(table["exchanges"])
        inc = inc.with_prompts(table["exchanges"])
        labels = _peel(linked, matrix, labels, table, params, weights)
        peeled = labels
        labels, attached, moved = attach(
            linked, labels, table, weights, read, params.min_cluster_size
        )
        # Parts of one network Leiden split (its resolution limit) or the peel cut (its card
        # rings), grouped by where their outside weight goes: accounts tied to a group as a
        # whole join it, flagged parts share a network id, kin pool their templates.
        scale = snapshot.total_weight / weight if snapshot.total_weight and weight else 1.0
        group = network_groups(
            quotient(linked, labels, operator_weights(weights), params.link_cap), params.seed, scale
        )

        labels, grouped_in, inputs = join_groups(
            linked, labels, group, membership_weights(weights), ~frozen,
            lambda wanted: snapshot.features(np.flatnonzero((wanted | read) & ~frozen)),
        )  # fmt: skip
        if grouped_in and inputs is not None:
            table, shape = inputs
            linked = linked.with_prompts(table["exchanges"])
            inc = inc.with_prompts(table["exchanges"])
            attached += grouped_in
        similarity = behaviour_similarity(table, labels)
        # Not on a thread beside the scores: its own heap held ~300 MiB more at the peak
        # (4.27 against 3.86 GiB at full usage) for 2-4 s (`docs/benchmarks.md`, "Full preset").
        ties = member_ties(inc, labels, params.kind_weights, WHY_TIES)
        # Kin are judged together where a feature needs the whole network to be seen (`score`'s
        # template concentration): pairs tied in the projection, and the groups.
        pairs, cohesive = cluster_ties(matrix, labels, snapshot.total_weight)
        kin = cohesive[pairs[:, 0]] & cohesive[pairs[:, 1]]
        kinship = np.concatenate([pairs[kin], group_pairs(group, cohesive)])
        scored = score(table, labels, inc, matrix, shape, kinship)
        proof = evidence(inc, labels, params.kind_weights)
    with stage("identity"):
        # Members are matched by internal node id (no account-id strings to read).
        old: dict[str, set[int]] = {cid: set() for cid in previous.ids}
        for node, cid in zip(previous.members.nodes.tolist(), previous.members.clusters,
                             strict=True):  # fmt: skip
            old[cid].add(node)
        n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
        members_of: list[list[int]] = [[] for _ in range(n_clusters)]
        for i in np.flatnonzero(labels >= 0).tolist():
            members_of[int(labels[i])].append(i)
        new = [set(node_ids[m].tolist()) for m in members_of]
        community_of = majority(labels, community, n_clusters).tolist()
        new_evidence = [{f"{k}:{key}" for k, key, _, _ in proof.get(c, [])}
                        for c in range(n_clusters)]  # fmt: skip
        assignment = assign(old, new, previous.evidence, new_evidence)
        index = {cid: c for c, cid in enumerate(assignment.ids)}
        split_from = [
            (index[e.cluster_id], index[p]) for e in assignment.events if e.type == "split"
            for p in e.related if p in index
        ]  # fmt: skip
        # A cluster an analyst confirmed heads its network whatever its risk, so an operation
        # that returns on part of the same infrastructure joins the network it was banned in.
        confirmed = np.array([cid in previous.confirmed for cid in assignment.ids], bool)
        eligible = (scored.risk >= params.flag_threshold) | confirmed
        grouped = group_pairs(group, eligible)
        owned = owned_groups(inc, labels, eligible, params.kind_weights, params.link_cap)
        network = networks(np.concatenate([pairs, grouped, owned]), eligible, split_from)
        whole, member_weights = whole_networks(labels, network), membership_weights(weights)
        tie, positions = tie_and_template_positions(linked, whole, member_weights)
        # Newcomers are judged on their ties to the clusters as the peel left them.
        tie -= newcomer_ties(linked, whole, (labels >= 0) & (peeled < 0), member_weights)
        tie += owned_build_ties(inc, whole, eligible, labels, positions, params.kind_weights)
        thin = vouched(labels, network, confirmed) | own_templates(labels, positions)
        if thin.any():
            shrunk = thin_shrunk(similarity, table)
            similarity = np.where(thin, np.maximum(shrunk, similarity), similarity)
        tie = self_tied_ties(linked, labels, tie, similarity, member_weights, params.link_cap)
        conf = confidence(tie, similarity)
        groups = [np.flatnonzero(network == g) for g in range(int(network.max(initial=-1)) + 1)]
        parts = [set().union(*(new[c] for c in g.tolist())) for g in groups]
        network_ids = [""] * n_clusters
        for g, nid in zip(groups, assign(previous.network_members(), parts, prefix="nw-").ids,
                          strict=True):  # fmt: skip
            for c in g.tolist():
                network_ids[c] = nid
        assignment.events += regrowth(assignment, network, confirmed, [len(m) for m in new])
        kin_ids = kin_heads(kinship, assignment.ids)
    return Detection(
        matrix=matrix, labels=labels, community=community, conf=conf, scored=scored,
        proof=proof, assignment=assignment, members_of=members_of, community_of=community_of,
        communities=communities, attached=attached, moved=moved, network_ids=network_ids,
        kin_ids=kin_ids, weight=weight, strengths=strengths, tie=tie,
        similarity=similarity, ties=ties, seconds=seconds, scores=score_parts,
    )  # fmt: skip


def banned_bystanders(
    result: Detection,
    node_ids: I64,
    touched: I64,
    previous: Previous,
    flag_threshold: float,
    min_confidence: float,
) -> I64:
    """Node ids a region's `result` would put on the ban list that nothing new touched and
    whose previous cluster was not flagged (nor confirmed): a verdict only the region's
    approximation changed, which the service leaves to the full refresh (`service._refresh`).

    A region holds every cluster a change reaches, but of each account only its ties into the
    region. On fresh draw 211 (2026-12-05) its Leiden merged a genuine cluster into a
    behaviour-only network's, whose risk then carried the genuine members, tied to each other,
    past the gate: 630 genuine accounts banned that the full refresh of the same graph does
    not ban (`docs/detection.md`, "Incremental refresh"). A network's own members under the
    gate may still pass it (their cluster was flagged), and so may the accounts the change
    touched: what grows a network is what an incremental refresh is for."""
    risk = np.where(result.labels >= 0, result.scored.risk[np.maximum(result.labels, 0)], 0.0)
    banned = (risk >= flag_threshold) & (result.conf >= min_confidence)
    members = previous.members
    was_unflagged = np.zeros(node_ids.size, bool)
    if len(members):
        pos, ok = locate(node_ids, members.nodes)
        # Judged per cluster, not per membership (a region's hold tens of thousands).
        names, inverse = np.unique(members.clusters.astype(str), return_inverse=True)
        unflagged = np.array(
            [c not in previous.network and c not in previous.confirmed for c in names.tolist()],
            bool,
        )[np.ravel(inverse)]
        was_unflagged[pos[ok]] = unflagged[ok]
    out: I64 = node_ids[banned & was_unflagged & ~np.isin(node_ids, touched)]
    return out


def member_why(result: Detection, inc: Incidence, dense: I64) -> npt.NDArray[np.object_]:
    """Per given member, the JSON stored on its membership (`MEMBER_OF.why`): tie strength,
    behaviour similarity and its strongest ties (kind, key, members holding it, all holders).
    Built only for the memberships a refresh writes."""
    account, ident, members = result.ties
    lo = np.searchsorted(account, dense, side="left")
    hi = np.searchsorted(account, dense, side="right")
    out = np.empty(dense.size, dtype=object)
    for n, (i, a, b) in enumerate(zip(dense.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        ties = [
            [inc.kinds[inc.kind[j]], inc.keys[j], m, int(inc.degree[j])]
            for j, m in zip(ident[a:b].tolist(), members[a:b].tolist(), strict=True)
        ]
        tie, similarity = round(float(result.tie[i]), 3), round(float(result.similarity[i]), 3)
        out[n] = json.dumps({"tie": tie, "behaviour": similarity, "ties": ties})
    return out


def write_back_rows(
    result: Detection, previous: Previous, snapshot: Snapshot, run_id: str, now_ms: int, stats: str
) -> WriteBack:
    """Cluster rows, the memberships that changed, retired clusters, lineage and events."""
    node_ids = snapshot.node_ids
    scored, assignment, members_of = result.scored, result.assignment, result.members_of
    clusters: list[dict[str, Any]] = []
    risk_names = list(RISK_WEIGHTS)
    for c, cid in enumerate(assignment.ids):
        features = {
            n: round(float(v), 4)
            for n, v in zip(scored.feature_names, scored.features[c], strict=True)
        }
        contributions = {
            n: round(float(v), 4) for n, v in zip(risk_names, scored.contributions[c], strict=True)
        }
        explanation = {
            "bias": BIAS,
            "contributions": dict(sorted(contributions.items(), key=lambda kv: -kv[1])),
        }
        evidence_rows = [
            {"kind": k, "key": key, "members": n, "degree": d}
            for k, key, n, d in result.proof.get(c, [])
        ]
        clusters.append({
            "id": cid, "risk": round(float(scored.risk[c]), 4), "size": len(members_of[c]),
            "community": result.community_of[c], "network": result.network_ids[c] or None,
            "kin": result.kin_ids[c] or None,
            "features": json.dumps(features),
            "explanation": json.dumps(explanation), "evidence": json.dumps(evidence_rows),
            "evidence_keys": [f"{r['kind']}:{r['key']}" for r in evidence_rows],
        })  # fmt: skip
    # Only memberships that changed are written; the rest stay as they are.
    dense = np.asarray([i for m in members_of for i in m], np.int64)
    new_nodes = node_ids[dense]
    new_clusters = np.repeat(np.asarray(assignment.ids, dtype=object), [len(m) for m in members_of])
    new_conf = np.round(result.conf[dense], 4)
    old = previous.members
    old_conf = old.confidences if old.confidences is not None else np.zeros(0)
    write, end = membership_changes(
        old.nodes, old.clusters, old_conf, new_nodes, new_clusters, new_conf
    )
    active = set(assignment.ids)
    retired = [
        {"id": cid, "status": (ClusterStatus.MERGED if cid in assignment.merged_into
                               else ClusterStatus.DISSOLVED).value,
         "merged_into": assignment.merged_into.get(cid)}
        for cid in sorted(previous.ids) if cid not in active
    ]  # fmt: skip
    was = set(previous.ids)
    lineage = [
        {"child": child, "parent": parent, "kind": "merged" if child in was else "split"}
        for child, parents in assignment.parents.items() for parent in parents
    ]  # fmt: skip
    events = [
        {"type": e.type, "cluster_id": e.cluster_id, "related": e.related,
         "size_before": e.size_before, "size_after": e.size_after}
        for e in assignment.events
    ]  # fmt: skip
    return WriteBack(
        run_id=run_id, now_ms=now_ms, clusters=clusters,
        members=Memberships(new_nodes[write], new_clusters[write], new_conf[write],
                            member_why(result, snapshot.incidence, dense[write])),
        ends=Memberships(old.nodes[end], old.clusters[end]), total_members=int(dense.size),
        retired=retired, lineage=lineage, events=events, stats=stats,
    )  # fmt: skip
