"""What a refresh reads: the snapshot (shared identifiers, member features) and the previous
clusters. Everything database-bound before the pure pipeline (`pipeline.detect`)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

import numpy as np
from neo4j import Driver

from backend.core.config import Settings
from backend.detection import repository as repo
from backend.detection.pipeline import F64, I64, Previous, Snapshot
from backend.detection.projection import (
    TEMPLATE_KIND,
    Incidence,
    band_floor,
    chance_floor,
    in_account_order,
    locate,
    unique_dense,
)
from backend.detection.records import Memberships
from backend.detection.scoring import ACCOUNT_COLUMNS
from backend.detection.snapshot_cache import (
    Fresh,
    TouchedLinks,
    WholeGraph,
    merge,
    names,
    needed,
    signature,
)
from backend.graph.model import ACCOUNT_INPUTS, Verdict, pack_inputs, unpack_inputs
from backend.normalise.identifiers import LSH_BAND_BITS, LSH_BANDS

FEATURE_CHUNK = 20_000


def _template_floor(driver: Driver, db: str) -> int:
    """Holders below which a template band is chance (`projection.band_floor`)."""
    links = repo.count_template_links(driver, db)
    buckets = LSH_BANDS * 2**LSH_BAND_BITS
    plain = chance_floor(links, buckets)
    counts = repo.template_band_holders(driver, db, plain)
    histogram = np.zeros(plain, np.int64)
    for degree, n in counts.items():
        if degree < plain:
            histogram[degree] = n
    held = sum(n for degree, n in counts.items() if degree > 0)
    return band_floor(links, buckets, held, histogram)


def export_incidence(driver: Driver, settings: Settings, region: I64 | None = None) -> WholeGraph:
    """All identifiers with 2..FEATURE_CAP holders, with holders mapped to dense indices.

    Template bands shared by no more accounts than chance collisions explain are left out.
    With `region` (internal node ids): only the identifiers its accounts hold, and of their
    holders only the region's; degrees stay those of the whole graph (an incremental refresh).
    """
    db = settings.NEO4J_DATABASE
    exported_at = time.time()
    kinds = export_kinds(settings)
    template_floor = _template_floor(driver, db)
    region_nodes = None if region is None else region.tolist()

    def export(rel: str) -> dict[str, Any]:
        return repo.export_links(
            driver, db, rel, region=region_nodes, max_degree=settings.DETECTION_FEATURE_CAP,
            min_degree=template_floor if rel == TEMPLATE_KIND else 2,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=settings.DETECTION_READ_THREADS) as pool:
        # The template bands first: two thirds of the rows, so the other reads fill the other
        # lane beside them instead of queueing them last.
        first = sorted(kinds, key=lambda k: k != TEMPLATE_KIND)
        pending = {k: pool.submit(export, k) for k in first}
        # The whole graph's holders are nearly every account: one scan beside the link reads.
        every = None if region is not None else pool.submit(repo.every_account_id, driver, db)
        parts = [pending[k].result() for k in kinds]
        accounts = {"nodes": [], "ids": []} if every is None else every.result()
    kind_idx = np.repeat(np.arange(len(kinds)), [len(p["keys"]) for p in parts])
    degree = [d for p in parts for d in p["degrees"]]
    keys = [f"{k}" for p in parts for k in p["keys"]]
    idents = [i for p in parts for i in p["idents"]]
    lists = [h for p in parts for h in p["holders"]]
    lengths = np.fromiter(map(len, lists), np.int64, count=len(lists))
    nodes = np.fromiter(chain.from_iterable(lists), np.int64, count=int(lengths.sum()))
    del parts, lists
    node_ids, dense = unique_dense(nodes)
    ids = np.empty(node_ids.size, object)
    at, found = locate(np.asarray(accounts["nodes"], np.int64), node_ids)
    ids[found] = np.asarray(accounts["ids"], object)[at[found]]
    if not found.all():  # a region's, and accounts written while the links were read
        ids[~found] = account_names(driver, settings, node_ids[~found])
    account = names(ids)
    inc = Incidence(
        kind=kind_idx.astype(np.int64),
        degree=np.asarray(degree, np.int64),
        keys=keys,
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        holders=dense.astype(np.int64),
        kinds=kinds,
        accounts=int(node_ids.size),
        population=population(driver, settings),
    )
    # Identifiers are already in key order (the export sorts them); accounts follow their ids.
    inc, order = in_account_order(inc, account)
    return WholeGraph(
        inc, node_ids[order], account[order], np.asarray(idents, np.int64),
        signature=signature(kinds, settings.DETECTION_FEATURE_CAP), exported_at=exported_at,
        template_floor=template_floor,
    )  # fmt: skip


def export_kinds(settings: Settings) -> tuple[str, ...]:
    return tuple(k for k, w in settings.DETECTION_KIND_WEIGHTS.items() if w > 0)


def account_names(driver: Driver, settings: Settings, nodes: I64) -> list[str]:
    """The account id of each given node, in the given order."""
    cols = repo.account_ids(driver, settings.NEO4J_DATABASE, nodes.tolist())
    account = np.empty(nodes.size, object)
    at, _ = locate(nodes, np.asarray(cols["nodes"], np.int64))
    account[at] = cols["ids"]
    return list(account)


def update_graph(
    driver: Driver,
    settings: Settings,
    graph: WholeGraph,
    touched_nodes: I64,
    seconds: dict[str, float] | None = None,
) -> WholeGraph | None:
    """The cached whole-graph export brought up to date by reading only what the touched
    accounts hold now (`snapshot_cache.merge`), or None when the template floor fell below the
    cache's (bands it never held would now be exported). `seconds`: where the time went."""
    spent: dict[str, float] = {} if seconds is None else seconds
    started = time.perf_counter()
    db = settings.NEO4J_DATABASE
    kinds = graph.incidence.kinds
    template_floor = _template_floor(driver, db)
    if template_floor < graph.template_floor:
        return None
    floors = np.array([template_floor if k == TEMPLATE_KIND else 2 for k in kinds], np.int64)
    nodes = touched_nodes.tolist()

    def links(k: int) -> dict[str, Any]:
        return repo.touched_links(driver, db, kinds[k], nodes, int(floors[k]))

    with ThreadPoolExecutor(max_workers=settings.DETECTION_READ_THREADS) as pool:
        parts = list(pool.map(links, range(len(kinds))))
    touched = TouchedLinks(
        nodes=np.fromiter(chain.from_iterable(p["nodes"] for p in parts), np.int64),
        kind=np.repeat(np.arange(len(kinds)), [len(p["nodes"]) for p in parts]).astype(np.int64),
        idents=np.fromiter(chain.from_iterable(p["idents"] for p in parts), np.int64),
        degree=np.fromiter(chain.from_iterable(p["degrees"] for p in parts), np.int64),
    )
    spent["links"] = time.perf_counter() - started
    need = needed(graph, touched, floors, settings.DETECTION_FEATURE_CAP)
    held_idents, first = np.unique(touched.idents, return_index=True)
    need_kind = touched.kind[first][np.searchsorted(held_idents, need)]

    def holders(k: int) -> dict[str, Any]:
        idents = need[need_kind == k].tolist()
        if not idents:
            return {"idents": [], "keys": [], "holders": []}
        return repo.identifier_holders(driver, db, kinds[k], idents)

    with ThreadPoolExecutor(max_workers=settings.DETECTION_READ_THREADS) as pool:
        held = list(pool.map(holders, range(len(kinds))))
    fresh = Fresh(
        idents=np.asarray([i for h in held for i in h["idents"]], np.int64),
        keys=[f"{k}" for h in held for k in h["keys"]],
        holders=[list(x) for h in held for x in h["holders"]],
    )
    spent["holders"] = time.perf_counter() - started - spent["links"]
    merged = merge(
        graph, touched, fresh, lambda extra: account_names(driver, settings, extra), floors,
        settings.DETECTION_FEATURE_CAP, population(driver, settings),
    )  # fmt: skip
    spent["merge"] = time.perf_counter() - started - spent["links"] - spent["holders"]
    merged.template_floor = template_floor
    return merged


class AccountInputs:
    """The feature inputs of a snapshot's accounts, read in the background. Neo4j answers the
    reads on one core while projection and Leiden run in Python on another, and the pipeline
    takes the inputs once it knows which accounts it needs: a million-account refresh spent
    ~11 s waiting on these reads (docs/benchmarks.md). All the snapshot's accounts are read,
    since which ones are needed is known only after Leiden; the rest are masked out, so the
    table is what a read of the needed accounts alone gives. The risk marks are read over the
    whole graph (`repository.ACCOUNT_MARKS`), or with `marks_by_account` (a region: a few
    percent of the accounts) from the accounts' side, chunk by chunk."""

    def __init__(
        self,
        driver: Driver,
        settings: Settings,
        node_ids: I64,
        only: I64 | None = None,
        threads: int | None = None,
        marks_by_account: bool = False,
    ) -> None:
        db = settings.NEO4J_DATABASE
        self.node_ids = node_ids
        nodes = (node_ids if only is None else node_ids[only]).tolist()
        # One core less than the reads may use in the foreground: the pipeline needs one.
        workers = threads or max(1, settings.DETECTION_READ_THREADS - 1)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="account-inputs")

        def chunk(part: list[int]) -> dict[str, Any]:
            return repo.account_features(driver, db, part, with_marks=marks_by_account)

        def marked(column: str) -> list[int]:
            return repo.marked_accounts(driver, db, column)

        parts = [nodes[i : i + FEATURE_CHUNK] for i in range(0, len(nodes), FEATURE_CHUNK)]
        self._chunks = [pool.submit(chunk, part) for part in parts]
        self._marks = (
            {} if marks_by_account else {c: pool.submit(marked, c) for c in repo.ACCOUNT_MARKS}
        )
        pool.shutdown(wait=False)

    def table(self, dense: I64) -> tuple[dict[str, F64], I64]:
        """Inputs of the given dense accounts (other rows zero) and their email-shape codes."""
        node_ids = self.node_ids
        n = node_ids.size
        table = {c: np.zeros(n) for c in ACCOUNT_COLUMNS}
        shapes = np.full(n, "", dtype=object)
        wanted = np.zeros(n, bool)
        wanted[dense] = True
        order = np.argsort(node_ids, kind="stable")  # node_ids are in account order, not sorted
        for future in self._chunks:
            cols = future.result()
            at, _ = locate(node_ids, np.asarray(cols["node"], np.int64), order)
            keep = wanted[at]
            at = at[keep]
            inputs = _inputs(cols["inputs"])[keep]
            for j, c in enumerate(ACCOUNT_INPUTS):
                table[c][at] = inputs[:, j]
            shapes[at] = np.asarray(cols["email_shape"], dtype=object)[keep]
            for column in repo.MARK_RULES.keys() & cols.keys():  # marks read by account
                table[column][at] = np.asarray(cols[column], np.float64)[keep]
        for column, pending in self._marks.items():
            at, found = locate(node_ids, np.asarray(pending.result(), np.int64), order)
            ok = found & wanted[at] if n else found
            table[column] = np.bincount(at[ok], minlength=n).astype(np.float64)
        _, shape = np.unique(shapes.astype(str), return_inverse=True)
        return table, shape.astype(np.int64)


def _inputs(values: list[bytes | list[int]]) -> F64:
    try:
        rows = unpack_inputs(values)  # type: ignore[arg-type]
    except TypeError:  # some accounts not packed yet (`heracles db migrate` packs them)
        rows = unpack_inputs([v if isinstance(v, bytes) else pack_inputs([v])[0] for v in values])
    return rows.astype(np.float64)


def account_table(
    driver: Driver, settings: Settings, node_ids: I64, dense: I64
) -> tuple[dict[str, F64], I64]:
    """Feature inputs for the given dense accounts, read now; other rows stay zero."""
    reader = AccountInputs(driver, settings, node_ids, dense, settings.DETECTION_READ_THREADS)
    return reader.table(dense)


def read_snapshot(
    driver: Driver, settings: Settings, region: I64 | None = None, total_weight: float | None = None
) -> Snapshot:
    """The whole graph, or with `region` (an incremental refresh) the region's part of it and
    the whole graph's projected weight (`Snapshot.total_weight`)."""
    graph = export_incidence(driver, settings, region)
    return snapshot_of(driver, settings, graph.incidence, graph.node_ids, total_weight)


def snapshot_of(
    driver: Driver,
    settings: Settings,
    inc: Incidence,
    node_ids: I64,
    total_weight: float | None = None,
) -> Snapshot:
    """A snapshot of this incidence, its accounts' inputs read in the background. With
    `total_weight` it is a region's (an incremental refresh): its marks are read by account."""
    region = total_weight is not None
    return Snapshot(
        incidence=inc,
        node_ids=node_ids,
        features=AccountInputs(driver, settings, node_ids, marks_by_account=region).table,
        total_weight=total_weight,
    )


def owned(proof: list[dict[str, Any]]) -> set[str]:
    """Evidence keys of the identifiers a cluster holds most of (at least half their holders)."""
    return {f"{e['kind']}:{e['key']}" for e in proof if 2 * e["members"] >= e["degree"]}


def read_previous(driver: Driver, settings: Settings) -> Previous:
    """The active clusters (in a fixed order), the evidence keys of active and dissolved ones,
    the community each active one was peeled from, and their current memberships."""
    db = settings.NEO4J_DATABASE
    rows = repo.active_clusters(driver, db)
    # Clusters written before communities were recorded count as their own community (their
    # id, a string, never equals a recorded community number).
    groups: dict[int | str, int] = {}
    community = {
        r["id"]: groups.setdefault(
            r["id"] if r["community"] is None else r["community"], len(groups)
        )
        for r in rows
    }
    dormant = repo.dormant_clusters(driver, db)
    cols = repo.active_members(driver, db)
    return Previous(
        ids=sorted(r["id"] for r in rows),
        evidence={r["id"]: set(r["evidence"]) for r in chain(rows, dormant)},
        community=community,
        network={r["id"]: r["network"] for r in rows if r["network"]},
        kin={r["id"]: r["kin"] for r in rows if r.get("kin")},
        confirmed={r["id"] for r in rows if r["verdict"] == Verdict.CONFIRMED_FRAUD},
        owned={r["id"]: owned(json.loads(r["proof"])) for r in rows},
        members=Memberships(
            np.asarray(cols["nodes"], np.int64),
            np.asarray(cols["clusters"], dtype=object),
            np.asarray(cols["confidences"], np.float64),
        ),
    )


def account_nodes(driver: Driver, settings: Settings, account_ids: list[str]) -> I64:
    return np.asarray(repo.account_nodes(driver, settings.NEO4J_DATABASE, account_ids), np.int64)


def neighbours(
    driver: Driver, settings: Settings, nodes: I64, reach: dict[str, int]
) -> tuple[I64, set[str]]:
    """`nodes` and every account tied to one of them by an identifier within `reach` (holders
    per kind); and the evidence keys (`kind:key`) of everything exported that they hold."""
    db = settings.NEO4J_DATABASE
    kinds = export_kinds(settings)
    template_floor = _template_floor(driver, db)

    def read(job: tuple[str, str]) -> list[Any]:
        rel, what = job
        floor = template_floor if rel == TEMPLATE_KIND else 2
        if what == "near":
            if reach.get(rel, 0) < floor:
                return []
            return repo.neighbours_within(driver, db, rel, nodes.tolist(), floor, reach[rel])
        top = settings.DETECTION_FEATURE_CAP
        return [f"{rel}:{k}" for k in repo.held_keys(driver, db, rel, nodes.tolist(), floor, top)]

    jobs = [(rel, what) for rel in kinds for what in ("near", "keys")]
    with ThreadPoolExecutor(max_workers=settings.DETECTION_READ_THREADS) as pool:
        found = dict(zip(jobs, pool.map(read, jobs), strict=True))
    near = [np.asarray(v, np.int64) for (_, what), v in found.items() if what == "near"]
    keys = {k for (_, what), v in found.items() if what == "keys" for k in v}
    return np.unique(np.concatenate([nodes, *near])), keys


def population(driver: Driver, settings: Settings) -> int:
    return repo.count_accounts(driver, settings.NEO4J_DATABASE)


def last_full_weight(driver: Driver, settings: Settings) -> float | None:
    return repo.last_full_weight(driver, settings.NEO4J_DATABASE)


def last_run(driver: Driver, settings: Settings) -> str | None:
    return repo.last_run(driver, settings.NEO4J_DATABASE)
