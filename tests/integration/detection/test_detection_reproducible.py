"""The same events, delivered in another order and other batches, give the same clusters.

Internal node ids follow the order events were written; detection must not: Leiden's result
depends on vertex order, so a population reloaded (or a replayed backfill) would otherwise come
back with other communities, and ban tooling would see clusters change with no new evidence.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from neo4j import Driver

from backend.core.config import Settings
from backend.detection.service import refresh
from backend.graph.model import CURRENT_MEMBERSHIP
from seed.generate import generate
from tests.integration.ingest_helpers import ingest, reset_state

pytestmark = pytest.mark.usefixtures("stack")


def _load_and_refresh(
    driver: Driver, settings: Settings, path: Path, batch_size: int
) -> dict[frozenset[str], tuple[float, list[str]]]:
    reset_state(driver, settings)
    report = ingest(settings, path, batch_size=batch_size)
    assert report.stats.rejected == 0 and not report.stats.failed_batches
    refresh(driver, settings)
    records, _, _ = driver.execute_query(
        "MATCH (c:Cluster {status: 'active'}) "
        f"RETURN c.risk AS risk, [(a)-[m:MEMBER_OF]->(c) WHERE {CURRENT_MEMBERSHIP} | a.id] "
        "AS members, c.evidence_keys AS evidence",
        database_=settings.NEO4J_DATABASE,
    )
    return {frozenset(r["members"]): (round(r["risk"], 6), sorted(r["evidence"])) for r in records}


def test_detection_does_not_depend_on_delivery_order(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    generate(1500, 11, tmp_path, 0.05)
    lines = gzip.decompress((tmp_path / "events.jsonl.gz").read_bytes()).splitlines()
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_bytes(b"\n".join(lines) + b"\n")

    first = _load_and_refresh(driver, settings, tmp_path / "events.jsonl.gz", 2000)
    second = _load_and_refresh(driver, settings, shuffled, 150)
    assert any(risk >= settings.DETECTION_FLAG_THRESHOLD for risk, _ in first.values())
    assert second == first
