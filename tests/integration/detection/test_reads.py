"""Detection's account inputs read the same from the packed bytes ingest keeps, from the
properties of an account without them, and after `heracles db migrate` packed them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from neo4j import Driver

from backend.core.config import Settings
from backend.detection.reads import read_snapshot
from backend.graph.model import ACCOUNT_INPUTS, ACCOUNT_INPUTS_PROPERTY
from backend.graph.schema_queries import migrate
from seed.generate import generate
from tests.integration.ingest_helpers import ingest, reset_state

pytestmark = pytest.mark.usefixtures("stack")


def _inputs(driver: Driver, settings: Settings) -> dict[str, bytes | None]:
    records, _, _ = driver.execute_query(
        f"MATCH (a:Account) RETURN a.id AS id, a.{ACCOUNT_INPUTS_PROPERTY} AS inputs",
        database_=settings.NEO4J_DATABASE,
    )
    return {r["id"]: r["inputs"] for r in records}


def _table(driver: Driver, settings: Settings) -> dict[str, np.ndarray]:
    snapshot = read_snapshot(driver, settings)
    table, shapes = snapshot.features(np.arange(snapshot.node_ids.size))
    return {**table, "email_shape": shapes}


def test_packed_inputs_read_like_the_properties_they_pack(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    reset_state(driver, settings)
    generate(2000, 4, tmp_path, 0.02)
    report = ingest(settings, tmp_path / "events.jsonl.gz", batch_size=2000)
    assert report.stats.rejected == 0 and not report.stats.failed_batches

    stored = _inputs(driver, settings)
    assert all(v is not None and len(v) == 8 * len(ACCOUNT_INPUTS) for v in stored.values())
    packed = _table(driver, settings)
    assert packed["exchanges"].sum() > 0 and packed["cards"].sum() > 0

    # Accounts written before ingest packed them (here every other one): detection computes
    # the same inputs itself.
    driver.execute_query(
        f"MATCH (a:Account) WHERE id(a) % 2 = 0 REMOVE a.{ACCOUNT_INPUTS_PROPERTY}",
        database_=settings.NEO4J_DATABASE,
    )
    assert None in _inputs(driver, settings).values()
    unpacked = _table(driver, settings)
    for column, values in packed.items():
        np.testing.assert_array_equal(unpacked[column], values, err_msg=column)

    # The migration packs exactly what ingest had packed.
    migrate(driver, settings.NEO4J_DATABASE)
    assert _inputs(driver, settings) == stored
