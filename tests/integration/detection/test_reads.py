"""Detection's account inputs read the same from the packed bytes ingest keeps, from the
properties of an account without them, and after `heracles db migrate` packed them; an
identifier's holders read as its node's degree only where that is what they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from neo4j import Driver

from backend.core.config import Settings
from backend.detection.reads import AccountInputs, read_snapshot
from backend.detection.repository import MARK_RULES
from backend.graph.model import ACCOUNT_INPUTS, ACCOUNT_INPUTS_PROPERTY, LINKS, SOLE_LINKS
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


def test_an_identifier_of_a_sole_link_has_no_other_relationship(
    driver: Driver, settings: Settings
) -> None:
    """Detection reads the holders of an identifier of `SOLE_LINKS` as its node's whole degree
    (`repository._degree`): on a seeded graph, node for node, that is its count of links of
    that type. Where the rule does not apply it would not be (an address's /24 and ASN)."""
    for rel, label in LINKS.items():
        records, _, _ = driver.execute_query(
            f"MATCH (i:{label}) RETURN count(i) AS nodes, sum(CASE WHEN COUNT {{ (i)--() }} "
            f"<> COUNT {{ (i)<-[:{rel}]-() }} THEN 1 ELSE 0 END) AS other",
            database_=settings.NEO4J_DATABASE,
        )
        nodes, other = records[0]["nodes"], records[0]["other"]
        assert nodes > 0, label
        if rel in SOLE_LINKS:
            assert other == 0, label
        elif rel == "USED_IP":
            assert other == nodes


def test_marks_read_by_account_equal_the_whole_graph_read(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    """A region reads the risk marks from its accounts' side (`ACCOUNT_FEATURES_AND_MARKS`), a full
    refresh over the whole graph (`ACCOUNT_MARKS`): the same counts for every account."""
    reset_state(driver, settings)
    generate(3000, 5, tmp_path, 0.05)
    report = ingest(settings, tmp_path / "events.jsonl.gz", batch_size=2000)
    assert report.stats.rejected == 0 and not report.stats.failed_batches
    node_ids = read_snapshot(driver, settings).node_ids
    half = np.random.default_rng(3).choice(node_ids.size, node_ids.size // 2, replace=False)
    for dense in (np.arange(node_ids.size), np.sort(half)):
        whole, _ = AccountInputs(driver, settings, node_ids).table(dense)
        by_account, _ = AccountInputs(driver, settings, node_ids, marks_by_account=True).table(
            dense
        )
        for column in MARK_RULES:
            np.testing.assert_array_equal(by_account[column], whole[column], err_msg=column)
    for column in MARK_RULES:  # every mark occurs, so each comparison can fail
        assert whole[column].sum() > 0, column
