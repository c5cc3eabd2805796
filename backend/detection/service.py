"""One detection refresh: export → projection → communities → scores → stable IDs → write-back.

Everything up to the write-back only reads. The write-back stages what changed in batches that
readers cannot see, then makes it current in one small transaction (see
`backend.graph.model.CURRENT_MEMBERSHIP`). A refresh that dies anywhere leaves the previous
clusters, memberships and change feed exactly as they were; the next refresh repairs the rest.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from neo4j import Driver

from backend.core.config import Settings
from backend.detection import repository as repo
from backend.detection.communities import leiden
from backend.detection.identity import assign, membership_changes
from backend.detection.projection import Incidence, chance_floor, project
from backend.detection.scoring import (
    ACCOUNT_COLUMNS,
    BIAS,
    RISK_WEIGHTS,
    TEMPLATE_KIND,
    behaviour_similarity,
    confidence,
    evidence,
    score,
    tie_strength,
)
from backend.normalise.identifiers import LSH_BAND_BITS, LSH_BANDS

log = logging.getLogger(__name__)
READ_THREADS = 2
FEATURE_CHUNK = 20_000
CORE_CONFIDENCE = 0.5  # members below it are split off their community before scoring
PEEL_ROUNDS = 3


@dataclass
class RefreshReport:
    run_id: str
    accounts: int = 0
    linked_accounts: int = 0
    identifiers: int = 0
    edges: int = 0
    communities: int = 0
    clusters: int = 0
    members: int = 0
    flagged_clusters: int = 0
    memberships_written: int = 0
    memberships_ended: int = 0
    events: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


def export_incidence(driver: Driver, settings: Settings) -> tuple[Incidence, np.ndarray[Any, Any]]:
    """All identifiers with 2..FEATURE_CAP holders, with holders mapped to dense indices.

    Template bands shared by no more accounts than chance collisions explain are left out.
    """
    db = settings.NEO4J_DATABASE
    kinds = tuple(k for k, w in settings.DETECTION_KIND_WEIGHTS.items() if w > 0)
    population = int(repo.run_read(driver, db, repo.COUNT_ACCOUNTS)[0]["n"])
    template_floor = chance_floor(
        int(repo.run_read(driver, db, repo.COUNT_TEMPLATE_LINKS)[0]["n"]),
        LSH_BANDS * 2**LSH_BAND_BITS,
    )

    def export(rel: str) -> dict[str, Any]:
        (cols,) = repo.run_read(
            driver, db, repo.EXPORT_INCIDENCE[rel], max_degree=settings.DETECTION_FEATURE_CAP,
            min_degree=template_floor if rel == TEMPLATE_KIND else 2,
        )  # fmt: skip
        return cols

    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        parts = list(pool.map(export, kinds))
    kind_idx = np.repeat(np.arange(len(kinds)), [len(p["keys"]) for p in parts])
    degree = [d for p in parts for d in p["degrees"]]
    keys = [f"{k}" for p in parts for k in p["keys"]]
    lists = [h for p in parts for h in p["holders"]]
    lengths = np.fromiter(map(len, lists), np.int64, count=len(lists))
    nodes = np.fromiter(chain.from_iterable(lists), np.int64, count=int(lengths.sum()))
    del parts, lists
    node_ids, dense = np.unique(nodes, return_inverse=True)
    inc = Incidence(
        kind=kind_idx.astype(np.int64),
        degree=np.asarray(degree, np.int64),
        keys=keys,
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        holders=dense.astype(np.int64),
        kinds=kinds,
        accounts=int(node_ids.size),
        population=population,
    )
    return inc, node_ids


def _account_table(
    driver: Driver, settings: Settings, node_ids: np.ndarray[Any, Any], dense: np.ndarray[Any, Any]
) -> tuple[dict[str, np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """Feature inputs for the given dense accounts; other rows stay zero."""
    db = settings.NEO4J_DATABASE
    n = node_ids.size
    table = {c: np.zeros(n) for c in ACCOUNT_COLUMNS}
    shapes = np.full(n, "", dtype=object)
    nodes = node_ids[dense].tolist()
    # Two reads in flight: Neo4j runs each query on one core, and this box has two.
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        chunks = pool.map(
            lambda part: repo.run_read(driver, db, repo.ACCOUNT_FEATURES, nodes=part)[0],
            [nodes[i : i + FEATURE_CHUNK] for i in range(0, len(nodes), FEATURE_CHUNK)],
        )
        marks = pool.map(
            lambda query: repo.run_read(driver, db, query)[0]["nodes"],
            list(repo.ACCOUNT_MARKS.values()),
        )
        for cols in chunks:
            at = np.searchsorted(node_ids, np.asarray(cols["node"], np.int64))  # sorted ids
            for c in repo.ACCOUNT_FEATURE_COLUMNS[1:-1]:
                table[c][at] = np.asarray(cols[c], np.float64)
            shapes[at] = cols["email_shape"]
        marked_lists = list(marks)
    wanted = np.zeros(n, bool)
    wanted[dense] = True
    for column, nodes_marked in zip(repo.ACCOUNT_MARKS, marked_lists, strict=True):
        marked = np.asarray(nodes_marked, np.int64)
        at = np.minimum(np.searchsorted(node_ids, marked), max(n - 1, 0))
        ok = (node_ids[at] == marked) & wanted[at] if n else np.zeros(0, bool)
        table[column] = np.bincount(at[ok], minlength=n).astype(np.float64)
    _, shape = np.unique(shapes.astype(str), return_inverse=True)
    return table, shape.astype(np.int64)


def _relabel(labels: np.ndarray[Any, Any], min_size: int) -> np.ndarray[Any, Any]:
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


def _read_previous(
    driver: Driver, settings: Settings
) -> tuple[list[str], dict[str, set[str]], dict[str, int], repo.Memberships]:
    """The active clusters (in a fixed order), their evidence keys, the community each was
    peeled from, and their current memberships."""
    db = settings.NEO4J_DATABASE
    rows = repo.run_read(driver, db, repo.READ_ACTIVE_CLUSTERS)
    ids = sorted(r["id"] for r in rows)
    # Clusters written before communities were recorded count as their own community (their
    # id, a string, never equals a recorded community number).
    groups: dict[int | str, int] = {}
    community = {
        r["id"]: groups.setdefault(
            r["id"] if r["community"] is None else r["community"], len(groups)
        )
        for r in rows
    }
    (cols,) = repo.run_read(driver, db, repo.READ_ACTIVE_MEMBERS)
    return (
        ids,
        {r["id"]: set(r["evidence"]) for r in rows},
        community,
        repo.Memberships(
            np.asarray(cols["nodes"], np.int64),
            np.asarray(cols["clusters"], dtype=object),
            np.asarray(cols["confidences"], np.float64),
        ),
    )


def _previous_labels(
    community: dict[str, int], members: repo.Memberships, node_ids: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Dense account index -> the community its cluster was peeled from in the previous
    refresh, -1 if none.

    Starting Leiden from the previous communities rather than the peeled clusters lets it
    start where it converged last time: the peel then splits the same way, and an unchanged
    graph keeps its memberships (starting from the peeled clusters, Leiden re-merged and the
    peel re-split a different fifth of them on each refresh).
    """
    initial = np.full(node_ids.size, -1, np.int64)
    if not len(members) or not node_ids.size:
        return initial
    names, inverse = np.unique(members.clusters.astype(str), return_inverse=True)
    cluster = np.asarray([community[c] for c in names.tolist()], np.int64)[inverse]
    pos = np.minimum(np.searchsorted(node_ids, members.nodes), node_ids.size - 1)
    ok = node_ids[pos] == members.nodes
    initial[pos[ok]] = cluster[ok]
    return initial


def refresh(driver: Driver, settings: Settings) -> RefreshReport:
    report = RefreshReport(run_id=f"run-{uuid.uuid4().hex[:12]}")
    weights = settings.DETECTION_KIND_WEIGHTS
    with report.stage("export"):
        # Numbered first: a repair of what a dead refresh left must precede reading the clusters.
        gen = repo.begin_generation(driver, settings.NEO4J_DATABASE)
        inc, node_ids = export_incidence(driver, settings)
    report.accounts = inc.population
    report.identifiers = int(inc.degree.size)
    with report.stage("projection"):
        matrix = project(
            inc, weights, settings.DETECTION_LINK_CAP, settings.DETECTION_EXACT_MAX,
            settings.DETECTION_SAMPLE_ROUNDS, settings.DETECTION_SEED,
        )  # fmt: skip
    report.edges = int(matrix.nnz // 2)
    report.linked_accounts = int((np.diff(matrix.indptr) > 0).sum())
    with report.stage("communities"):
        old_ids, old_evidence, old_community, old_members = _read_previous(driver, settings)
        initial = _previous_labels(old_community, old_members, node_ids)
        labels = leiden(
            matrix, settings.DETECTION_RESOLUTION, settings.DETECTION_SEED, initial=initial,
            iterations=settings.DETECTION_LEIDEN_ITERATIONS,
        )  # fmt: skip
        report.communities = int(labels.max()) + 1 if labels.size else 0
        labels = _relabel(labels, settings.DETECTION_MIN_CLUSTER_SIZE)
    with report.stage("scores"):
        candidates = np.flatnonzero(labels >= 0)
        community = labels.copy()  # before the peel: the next refresh's warm start
        table, shape = _account_table(driver, settings, node_ids, candidates)
        # Split each community into the core tied to it by what they share and behave alike,
        # and the periphery (e.g. a reseller's genuine customers on the same exits), re-scored
        # apart from the core.
        # Peeling repeats: once the loosest members are gone, the next layer's ties shrink too.
        for _ in range(PEEL_ROUNDS):
            conf = confidence(
                tie_strength(inc, labels, weights), behaviour_similarity(table, labels)
            )
            periphery = (labels >= 0) & (conf < CORE_CONFIDENCE)
            if not periphery.any():
                break
            labels = np.where(periphery, labels + int(labels.max()) + 1, labels)
            labels = _relabel(labels, settings.DETECTION_MIN_CLUSTER_SIZE)
        conf = confidence(tie_strength(inc, labels, weights), behaviour_similarity(table, labels))
        scored = score(table, labels, inc, matrix, shape)
        proof = evidence(inc, labels, weights)
    with report.stage("identity"):
        dormant = repo.run_read(driver, settings.NEO4J_DATABASE, repo.READ_DORMANT_CLUSTERS)
        old_evidence |= {r["id"]: set(r["evidence"]) for r in dormant}
        # Members are matched by internal node id (no account-id strings to read).
        old: dict[str, set[int]] = {cid: set() for cid in old_ids}
        for node, cid in zip(old_members.nodes.tolist(), old_members.clusters, strict=True):
            old[cid].add(node)
        n_comm = int(labels.max()) + 1 if (labels >= 0).any() else 0
        members_of: list[list[int]] = [[] for _ in range(n_comm)]
        for i in np.flatnonzero(labels >= 0).tolist():
            members_of[int(labels[i])].append(i)
        new = [set(node_ids[m].tolist()) for m in members_of]
        # The peel only splits communities, so a cluster's members share one community.
        community_of = [int(community[m[0]]) if m else -1 for m in members_of]
        new_evidence = [{f"{k}:{key}" for k, key, _, _ in proof.get(c, [])} for c in range(n_comm)]
        assignment = assign(old, new, old_evidence, new_evidence)
    with report.stage("write_back"):
        wb = _write_back_rows(
            report,
            settings,
            scored,
            proof,
            assignment,
            members_of,
            node_ids,
            conf,
            old_ids,
            old_members,
            community_of,
        )
        repo.write_back(driver, settings.NEO4J_DATABASE, gen, wb)
    report.clusters = len(wb.clusters)
    report.members = wb.total_members
    report.memberships_written = len(wb.members)
    report.memberships_ended = len(wb.ends)
    log.info("detection refresh", extra={"report": report.__dict__})
    return report


def _write_back_rows(
    report: RefreshReport,
    settings: Settings,
    scored: Any,
    proof: dict[int, list[tuple[str, str, int, int]]],
    assignment: Any,
    members_of: list[list[int]],
    node_ids: np.ndarray[Any, Any],
    conf: np.ndarray[Any, Any],
    old_ids: list[str],
    old_members: repo.Memberships,
    community_of: list[int],
) -> repo.WriteBack:
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
            {"kind": k, "key": key, "members": n, "degree": d} for k, key, n, d in proof.get(c, [])
        ]
        risk = round(float(scored.risk[c]), 4)
        if risk >= settings.DETECTION_FLAG_THRESHOLD:
            report.flagged_clusters += 1
        clusters.append({
            "id": cid, "risk": risk, "size": len(members_of[c]), "community": community_of[c],
            "features": json.dumps(features), "explanation": json.dumps(explanation),
            "evidence": json.dumps(evidence_rows),
            "evidence_keys": [f"{r['kind']}:{r['key']}" for r in evidence_rows],
        })  # fmt: skip
    # Only memberships that changed are written; the rest stay as they are.
    dense = np.asarray([i for m in members_of for i in m], np.int64)
    new_nodes = node_ids[dense]
    new_clusters = np.repeat(np.asarray(assignment.ids, dtype=object), [len(m) for m in members_of])
    new_conf = np.round(conf[dense], 4)
    old_nodes, old_clusters = old_members.nodes, old_members.clusters
    old_conf = old_members.confidences if old_members.confidences is not None else np.zeros(0)
    write, end = membership_changes(
        old_nodes, old_clusters, old_conf, new_nodes, new_clusters, new_conf
    )
    old = set(old_ids)
    active = set(assignment.ids)
    retired = [
        {"id": cid, "status": "merged" if cid in assignment.merged_into else "dissolved",
         "merged_into": assignment.merged_into.get(cid)}
        for cid in sorted(old) if cid not in active
    ]  # fmt: skip
    lineage = [
        {"child": child, "parent": parent, "kind": "merged" if child in old else "split"}
        for child, parents in assignment.parents.items() for parent in parents
    ]  # fmt: skip
    events = [
        {"type": e.type, "cluster_id": e.cluster_id, "related": e.related,
         "size_before": e.size_before, "size_after": e.size_after}
        for e in assignment.events
    ]  # fmt: skip
    for e in assignment.events:
        report.events[e.type] = report.events.get(e.type, 0) + 1
    return repo.WriteBack(
        run_id=report.run_id, now_ms=int(time.time() * 1000), clusters=clusters,
        members=repo.Memberships(new_nodes[write], new_clusters[write], new_conf[write]),
        ends=repo.Memberships(old_nodes[end], old_clusters[end]),
        total_members=int(dense.size), retired=retired, lineage=lineage, events=events,
        stats=json.dumps(report.seconds),
    )  # fmt: skip
