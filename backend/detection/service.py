"""One detection refresh: read → detect (pure, `pipeline.detect`) → write back.

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np
from neo4j import Driver

from backend.core.config import Settings
from backend.detection import repository as repo
from backend.detection.pipeline import Params, detect, timed, write_back_rows
from backend.detection.reads import read_previous, read_snapshot

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    run_id: str
    accounts: int = 0
    linked_accounts: int = 0
    identifiers: int = 0
    edges: int = 0
    communities: int = 0
    attached: int = 0
    clusters: int = 0
    members: int = 0
    flagged_clusters: int = 0
    memberships_written: int = 0
    memberships_ended: int = 0
    events: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> AbstractContextManager[None]:
        return timed(self.seconds, name)


def refresh(driver: Driver, settings: Settings) -> RefreshReport:
    report = RefreshReport(run_id=f"run-{uuid.uuid4().hex[:12]}")
    params = Params.from_settings(settings)
    with report.stage("export"):
        # Numbered first: a repair of what a dead refresh left must precede reading the clusters.
        gen = repo.begin_generation(driver, settings.NEO4J_DATABASE)
        snapshot = read_snapshot(driver, settings)
        previous = read_previous(driver, settings)
    result = detect(snapshot, previous, params)
    report.seconds.update(result.seconds)
    inc = snapshot.incidence
    report.accounts = inc.population
    report.identifiers = int(inc.degree.size)
    report.edges = int(result.matrix.nnz // 2)
    report.linked_accounts = int((np.diff(result.matrix.indptr) > 0).sum())
    report.communities = result.communities
    report.attached = result.attached
    report.flagged_clusters = int((result.scored.risk >= params.flag_threshold).sum())
    for e in result.assignment.events:
        report.events[e.type] = report.events.get(e.type, 0) + 1
    with report.stage("write_back"):
        wb = write_back_rows(
            result, previous, snapshot, report.run_id, int(time.time() * 1000),
            json.dumps(report.seconds),
        )  # fmt: skip
        repo.write_back(driver, settings.NEO4J_DATABASE, gen, wb, settings.DETECTION_WRITE_LANES)
    report.clusters = len(wb.clusters)
    report.members = wb.total_members
    report.memberships_written = len(wb.members)
    report.memberships_ended = len(wb.ends)
    log.info("detection refresh", extra={"report": report.__dict__})
    return report
