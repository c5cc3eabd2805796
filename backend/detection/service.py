"""One detection refresh: read → detect (pure, `pipeline.detect`) → write back; of the whole
graph, or of the region what ingest touched since reaches (`docs/detection.md`).

Everything up to the write-back only reads. The write-back stages what changed in batches that
readers cannot see, then makes it current in one small transaction (see
`backend.graph.model.CURRENT_MEMBERSHIP`). A refresh that dies anywhere leaves the previous
clusters, memberships and change feed exactly as they were; the next refresh repairs the rest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import redis
from neo4j import Driver

from backend.core.config import Settings
from backend.core.heap import reuse_freed_memory
from backend.detection import partition_cache, snapshot_cache
from backend.detection import repository as repo
from backend.detection.pipeline import (
    I64,
    Detection,
    Params,
    Partition,
    Previous,
    Snapshot,
    banned_bystanders,
    detect,
    member_groups,
    reach_degrees,
    region_of,
    timed,
    write_back_rows,
)
from backend.detection.projection import restrict
from backend.detection.reads import (
    account_nodes,
    export_incidence,
    export_kinds,
    last_full_weight,
    last_run,
    neighbours,
    population,
    read_previous,
    read_snapshot,
    snapshot_of,
    update_graph,
)
from backend.detection.snapshot_cache import WholeGraph, signature
from backend.graph import touched

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    run_id: str
    # "full", "region" (incremental), "none" (nothing touched) or "deferred" (too much touched,
    # or `bystanders`: left to the scheduled full refresh)
    scope: str = "full"
    touched: int = 0  # accounts ingest marked since the last refresh
    region: int = 0  # accounts an incremental refresh recomputed
    # Accounts a region's result would have banned that nothing touched, from clusters that
    # were not flagged (`pipeline.banned_bystanders`): the refresh deferred instead.
    bystanders: int = 0
    # Where the graph came from: "neo4j" (read whole) or "kept" (the last refresh's incidence
    # brought up to date by the touched accounts' links, `whole_graph`); "" when not read.
    source: str = ""
    accounts: int = 0
    linked_accounts: int = 0
    identifiers: int = 0
    edges: int = 0
    communities: int = 0
    attached: int = 0
    moved: int = 0
    clusters: int = 0
    members: int = 0
    flagged_clusters: int = 0
    memberships_written: int = 0
    memberships_ended: int = 0
    events: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # Where a stage's time went, by part: export, scores (the wait for the feature table) and
    # write_back (stage name -> part -> seconds).
    parts: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"export": {}, "scores": {}, "write_back": {}}
    )

    def stage(self, name: str) -> AbstractContextManager[None]:
        return timed(self.seconds, name)


def refresh(
    driver: Driver,
    settings: Settings,
    client: redis.Redis | None = None,
    incremental: bool = False,
) -> RefreshReport:
    """A full refresh, or with `incremental` one over what ingest touched (`_refresh`), with
    freed memory kept for reuse while it runs (`backend.core.heap`)."""
    with reuse_freed_memory():
        return _refresh(driver, settings, client, incremental)


def _refresh(
    driver: Driver,
    settings: Settings,
    client: redis.Redis | None,
    incremental: bool,
) -> RefreshReport:
    """A full refresh, or with `incremental` one over what ingest touched since the last one.
    An incremental refresh runs a full one when no full refresh has recorded the weight it
    scales by, and defers (scope "deferred", the marks kept for the scheduled full refresh)
    when the change reaches more than DETECTION_INCREMENTAL_MAX_SHARE of the accounts: one
    every minute would otherwise turn a heavy load into back-to-back full refreshes.
    With `client`, the touched marks are taken at the start and dropped once committed."""
    report = RefreshReport(run_id=f"run-{uuid.uuid4().hex[:12]}")
    params = Params.from_settings(settings)
    marks = touched.take(client) if client is not None else set()
    report.touched = len(marks)
    if incremental and not marks:
        report.scope = "none"
        return report
    bound = settings.DETECTION_INCREMENTAL_MAX_SHARE * population(driver, settings)
    if incremental and len(marks) > bound:
        report.scope = "deferred"
        return report
    whole: WholeGraph | None = None  # what the next incremental refresh may start from
    touched_nodes: I64 = np.zeros(0, np.int64)  # a region's touched accounts
    with report.stage("export"):
        # Numbered first: a repair of what a dead refresh left must precede reading the clusters.
        gen = repo.begin_generation(driver, settings.NEO4J_DATABASE)
        # Read beside the graph's export (Neo4j answers both, on two cores): an incremental
        # refresh waited ~0.7 s on it first (docs/benchmarks.md).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="previous") as pool:
            pending = pool.submit(_read_previous, driver, settings, report.parts["export"])
            scoped = (
                read_region(driver, settings, marks, pending.result, bound, report)
                if incremental
                else None
            )
            if scoped == "deferred":
                repo.close_generation(driver, settings.NEO4J_DATABASE, gen)
                report.scope = "deferred"
                return report
            if scoped is None:
                whole = whole_graph(
                    driver, settings, marks if client is not None else None, bound, report
                )
                snapshot = snapshot_of(driver, settings, whole.incidence, whole.node_ids)
                previous = pending.result()
            else:
                snapshot, previous, report.region, whole, touched_nodes = scoped
                report.scope = "region"
    saving = _keep(settings, whole, report.run_id)
    result = detect(snapshot, previous, params)
    if report.scope == "region":
        bystanders = banned_bystanders(
            result, snapshot.node_ids, touched_nodes, previous,
            settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE,
        )  # fmt: skip
        if bystanders.size:
            # Not a change the region can judge: the marks stay for the full refresh.
            if saving is not None:
                saving.discard()
            repo.close_generation(driver, settings.NEO4J_DATABASE, gen)
            report.scope, report.bystanders = "deferred", int(bystanders.size)
            log.info("detection refresh deferred", extra={"report": report.__dict__})
            return report
    report.seconds.update(result.seconds)
    report.parts["scores"] = result.scores
    inc = snapshot.incidence
    report.accounts = inc.population
    report.identifiers = int(inc.degree.size)
    report.edges = int(result.matrix.nnz // 2)
    report.linked_accounts = int((np.diff(result.matrix.indptr) > 0).sum())
    report.communities = result.communities
    report.attached = result.attached
    report.moved = result.moved
    report.flagged_clusters = int((result.scored.risk >= params.flag_threshold).sum())
    for e in result.assignment.events:
        report.events[e.type] = report.events.get(e.type, 0) + 1
    parts = report.parts["write_back"]
    with report.stage("write_back"):
        with timed(parts, "rows"):
            wb = write_back_rows(
                result, previous, snapshot, report.run_id, int(time.time() * 1000),
                json.dumps(report.seconds),
            )  # fmt: skip
        wb.scope = report.scope
        wb.weight = result.weight if report.scope == "full" else None
        with timed(parts, "cache"):
            _keep_partition(settings, result, snapshot, previous, report)
            if saving is not None:
                saving.publish()  # the cache names this run: in place before the run can be last
        with timed(parts, "write"):
            repo.write_back(
                driver, settings.NEO4J_DATABASE, gen, wb, settings.DETECTION_WRITE_LANES
            )
    if client is not None:
        touched.done(client)
    report.clusters = len(wb.clusters)
    report.members = wb.total_members
    report.memberships_written = len(wb.members)
    report.memberships_ended = len(wb.ends)
    log.info("detection refresh", extra={"report": report.__dict__})
    return report


def whole_graph(
    driver: Driver, settings: Settings, marks: set[str] | None, bound: float, report: RefreshReport
) -> WholeGraph:
    """The whole graph for a full refresh: the last refresh's kept incidence brought up to date
    by the links of the accounts ingest marked since (`update_graph`, as an incremental refresh
    reads its region), or read whole from Neo4j when there is no such incidence, when the marks
    are not known (`marks` None: no Redis client) or more than `bound` accounts were marked
    (their links would take longer to read than the graph), or when the kept one was last read
    whole longer ago than DETECTION_EXPORT_MAX_AGE_S (the net under a change nothing marked)."""
    if marks is not None and len(marks) <= bound:
        touched_nodes = account_nodes(driver, settings, sorted(marks))
        oldest = time.time() - settings.DETECTION_EXPORT_MAX_AGE_S
        kept = _kept_graph(driver, settings, touched_nodes, report, oldest)
        if kept is not None:
            return kept
    report.source = "neo4j"
    with timed(report.parts["export"], "graph"):
        return export_incidence(driver, settings)


def _kept_graph(
    driver: Driver,
    settings: Settings,
    touched_nodes: I64,
    report: RefreshReport,
    exported_after: float = 0.0,
) -> WholeGraph | None:
    """The last refresh's kept incidence brought up to date by the links `touched_nodes` hold
    now (`update_graph`), or None without a current one (`cached_graph`) or when the template
    floor fell below the one it was read at."""
    parts = report.parts["export"]
    with timed(parts, "cache"):
        cached = cached_graph(driver, settings, exported_after)
    if cached is None:
        return None
    with timed(parts, "graph"):
        graph = update_graph(driver, settings, cached, touched_nodes, parts)
    if graph is not None:
        report.source = "kept"
    return graph


def _read_previous(driver: Driver, settings: Settings, parts: dict[str, float]) -> Previous:
    with timed(parts, "previous"):
        return previous_state(driver, settings)


def previous_state(driver: Driver, settings: Settings) -> Previous:
    """The previous clusters, and where the last refresh's Leiden left every account if this
    worker kept it (`partition_cache`)."""
    previous = read_previous(driver, settings)
    partition = partition_cache.load(partition_path(settings), last_run(driver, settings))
    return replace(previous, partition=partition)


def partition_path(settings: Settings) -> Path:
    return settings.STATE_DIR / "detection" / "partition.npz"


def _keep_partition(
    settings: Settings, result: Detection, snapshot: Snapshot, previous: Previous,
    report: RefreshReport,
) -> None:  # fmt: skip
    """Where this refresh's Leiden left every account, for the next refresh's warm start
    (`partition_cache`); a region's refresh patches the whole graph's. Named by this run:
    used only if the run commits."""
    placed = Partition.of(result.community, snapshot.node_ids, result.strengths)
    if report.scope == "region":
        frozen = snapshot.frozen
        recomputed = snapshot.node_ids if frozen is None else snapshot.node_ids[~frozen]
        placed = partition_cache.patched(previous.partition, placed, recomputed)
    try:
        partition_cache.save(placed, report.run_id, partition_path(settings))
    except OSError:
        log.warning("partition cache not written", exc_info=True)


def cache_dir(settings: Settings) -> Path:
    return settings.STATE_DIR / "detection" / "incidence"


class _Kept:
    """The whole-graph incidence for the next incremental refresh, written in the background
    while the pipeline runs (`_keep`) and swapped in only by a refresh that goes on to write
    (`publish`; a deferred one `discard`s it and the last committed refresh's cache stays).
    Named by this run: used only if the run commits."""

    def __init__(self, settings: Settings, whole: WholeGraph) -> None:
        self.directory = cache_dir(settings)
        self.written: Path | None = None
        self.thread = threading.Thread(
            target=self._write, args=(whole,), name="incidence-cache", daemon=True
        )
        self.thread.start()

    def _write(self, whole: WholeGraph) -> None:
        try:
            self.written = snapshot_cache.write(whole, self.directory)
        except OSError:
            log.warning("incremental cache not written", exc_info=True)

    def publish(self) -> None:
        self.thread.join()
        if self.written is not None:
            try:
                snapshot_cache.publish(self.written, self.directory)
            except OSError:
                log.warning("incremental cache not swapped in", exc_info=True)

    def discard(self) -> None:
        self.thread.join()
        if self.written is not None:
            snapshot_cache.discard(self.written)


def _keep(settings: Settings, whole: WholeGraph | None, run_id: str) -> _Kept | None:
    if whole is None or not settings.DETECTION_INCIDENCE_CACHE:
        return None
    whole.run_id = run_id
    return _Kept(settings, whole)


def read_region(
    driver: Driver,
    settings: Settings,
    marks: set[str],
    previous_clusters: Callable[[], Previous],
    bound: float,
    report: RefreshReport,
) -> tuple[Snapshot, Previous, int, WholeGraph | None, I64] | Literal["deferred"] | None:
    """The snapshot and previous clusters of the region a change reaches: the touched accounts,
    those tied to them within `reach_degrees`, and the clusters `Previous.affected` names
    (`previous_clusters`: all active ones, asked for once the graph is read).
    From the last refresh's cached incidence and the touched accounts' links when the cache is
    current (then also the updated whole graph), else read from Neo4j; with the touched
    accounts' node ids. None when a full refresh must run instead (none has recorded its
    weight yet); "deferred" when the region holds more than `bound` accounts."""
    total = last_full_weight(driver, settings)
    if total is None:
        return None
    reach = reach_degrees(settings.DETECTION_KIND_WEIGHTS, settings.DETECTION_LINK_CAP)
    touched_nodes = account_nodes(driver, settings, sorted(marks))
    whole = _kept_graph(driver, settings, touched_nodes, report)
    if whole is not None:
        previous = previous_clusters()
        with timed(report.parts["export"], "region"):
            inc = whole.incidence
            chosen = region_of(
                inc, whole.node_ids, touched_nodes, previous, reach,
                settings.DETECTION_MIN_CONFIDENCE,
            )  # fmt: skip
            if chosen.size > bound:
                return "deferred"
            part, dense = restrict(inc, chosen.keep)
        snapshot = snapshot_of(driver, settings, part, whole.node_ids[dense], total)
        snapshot.frozen, snapshot.groups = chosen.frozen[dense], chosen.groups[dense]
        return snapshot, chosen.previous, chosen.size, whole, touched_nodes
    report.source = "neo4j"
    with timed(report.parts["export"], "region"):
        near, keys = neighbours(driver, settings, touched_nodes, reach)
        previous = previous_clusters()
        scoped = previous.restrict(previous.affected(near, keys))
        region = np.union1d(near, scoped.members.nodes)
    if region.size > bound:
        return "deferred"
    with timed(report.parts["export"], "graph"):
        snapshot = read_snapshot(driver, settings, region, total)
    frozen = np.setdiff1d(near, np.union1d(touched_nodes, scoped.members.nodes))
    snapshot.frozen = np.isin(snapshot.node_ids, frozen)
    hit = np.isin(snapshot.node_ids, touched_nodes)
    snapshot.groups = member_groups(
        snapshot.node_ids, hit, scoped, settings.DETECTION_MIN_CONFIDENCE
    )
    return snapshot, scoped, int(region.size), None, touched_nodes


def cached_graph(
    driver: Driver, settings: Settings, exported_after: float = 0.0
) -> WholeGraph | None:
    """The cached whole-graph incidence, if the last refresh that wrote read it (and it
    descends from a whole read after `exported_after`)."""
    if not settings.DETECTION_INCIDENCE_CACHE:
        return None
    sig = signature(export_kinds(settings), settings.DETECTION_FEATURE_CAP)
    return snapshot_cache.load(cache_dir(settings), last_run(driver, settings), sig, exported_after)
