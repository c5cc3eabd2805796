"""Detection against the real stack: a seeded population ingested through Celery, refreshed by
the worker, scored with `heracles eval`; stable IDs, verdicts, the lock and atomic write-back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from neo4j import Driver

from backend.core.config import Settings
from backend.detection import repository as repo
from backend.detection.service import refresh
from backend.detection.tasks import LOCK_KEY, refresh_task
from backend.evaluation.labels import read_labels
from backend.evaluation.metrics import evaluate
from backend.evaluation.repository import read_memberships
from seed.generate import generate
from tests.integration.ingest_helpers import ingest, reset_state

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def seeded(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    generate(4000, 3, out, 0.05)
    reset_state(driver, settings)
    report = ingest(settings, out / "events.jsonl.gz", batch_size=2000)
    assert report.stats.rejected == 0 and not report.stats.failed_batches
    return out


def _clusters(driver: Driver, settings: Settings) -> dict[str, dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (c:Cluster {status: 'active'}) RETURN c.id AS id, c.risk AS risk, c.size AS size, "
        "[(a)-[:MEMBER_OF]->(c) | a.id] AS members, c.verdict AS verdict",
        database_=settings.NEO4J_DATABASE,
    )
    return {r["id"]: r.data() for r in records}


def test_refresh_on_the_worker_finds_the_planted_networks(
    seeded: Path, driver: Driver, settings: Settings
) -> None:
    result = refresh_task.delay().get(timeout=300)
    assert result["status"] == "done", result
    assert set(result["seconds"]) == {
        "export",
        "projection",
        "communities",
        "scores",
        "identity",
        "write_back",
    }
    truth = read_labels(seeded / "labels.jsonl")
    memberships = read_memberships(driver, settings.NEO4J_DATABASE)
    ev = evaluate(
        truth, memberships, settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE
    )
    assert ev.precision >= 0.95 and ev.recall >= 0.9, (ev.precision, ev.recall)
    assert all(c.recall >= 0.8 for c in ev.campaigns), [
        (c.campaign, c.recall) for c in ev.campaigns
    ]

    # Each cluster carries its features, explanation and evidence; the feed has one
    # `created` event per cluster, in sequence.
    records, _, _ = driver.execute_query(
        "MATCH (c:Cluster {status: 'active'}) WHERE c.risk >= $t "
        "RETURN c.features AS f, c.explanation AS x, c.evidence AS e",
        t=settings.DETECTION_FLAG_THRESHOLD, database_=settings.NEO4J_DATABASE,
    )  # fmt: skip
    assert records
    for r in records:
        assert json.loads(r["f"])["size"] >= settings.DETECTION_MIN_CLUSTER_SIZE
        assert json.loads(r["x"])["contributions"]
        assert json.loads(r["e"])[0]["members"] >= 2
    seqs, _, _ = driver.execute_query(
        "MATCH (e:ClusterEvent) RETURN e.seq AS seq, e.type AS type ORDER BY seq",
        database_=settings.NEO4J_DATABASE,
    )
    assert [r["seq"] for r in seqs] == list(range(1, len(seqs) + 1))
    assert {r["type"] for r in seqs} == {"created"}


def test_second_refresh_keeps_ids_and_verdicts(
    seeded: Path, driver: Driver, settings: Settings
) -> None:
    refresh(driver, settings)
    before = _clusters(driver, settings)
    flagged = max((c for c in before.values()), key=lambda c: c["risk"])
    driver.execute_query(
        "MATCH (c:Cluster {id: $id}) SET c.verdict = 'CONFIRMED_FRAUD'",
        id=flagged["id"], database_=settings.NEO4J_DATABASE,
    )  # fmt: skip
    # More events for the same population (new usage, a new account on a flagged card).
    member = sorted(flagged["members"])[0]
    card, _, _ = driver.execute_query(
        "MATCH (:Account {id: $a})-[:PAID_WITH]->(p) RETURN p.key AS k LIMIT 1",
        a=member, database_=settings.NEO4J_DATABASE,
    )  # fmt: skip
    extra = seeded / "extra.jsonl"
    extra.write_text(
        json.dumps({"type": "billing", "event_id": "extra-1", "account_id": "a-new-1",
                    "occurred_at": "2026-02-20T10:00:00Z", "payment_fingerprint": card[0]["k"]})
        + "\n"
    )  # fmt: skip
    ingest(settings, extra)
    report = refresh(driver, settings)
    after = _clusters(driver, settings)
    assert after[flagged["id"]]["verdict"] == "CONFIRMED_FRAUD"
    # >= 99% of previously flagged accounts are under the same cluster ID.
    owner = {a: cid for cid, c in after.items() for a in c["members"]}
    was = [(a, cid) for cid, c in before.items() if c["risk"] >= 0.5 for a in c["members"]]
    kept = sum(1 for a, cid in was if owner.get(a) == cid)
    assert kept >= 0.99 * len(was), (kept, len(was), report.events)


def test_a_failed_write_back_leaves_the_previous_clusters(
    seeded: Path, driver: Driver, settings: Settings
) -> None:
    refresh(driver, settings)
    before = _clusters(driver, settings)
    events_before = driver.execute_query(
        "MATCH (e:ClusterEvent) RETURN count(e) AS n", database_=settings.NEO4J_DATABASE
    )[0][0]["n"]
    # A write-back that fails after it has deleted the memberships (a map is not a valid
    # property value, so the server rejects the cluster rows): the transaction rolls back.
    broken = repo.WriteBack(
        run_id="run-broken", now_ms=0,
        clusters=[{"id": "cl-broken", "risk": 1.0, "size": 1, "features": {"not": "allowed"},
                   "explanation": "{}", "evidence": "[]", "evidence_keys": []}],
        members=[], retired=[], lineage=[], events=[{"type": "created", "cluster_id": "cl-broken",
                 "related": [], "size_before": 0, "size_after": 1}], stats="{}",
    )  # fmt: skip
    with pytest.raises(Exception), driver.session(database=settings.NEO4J_DATABASE) as session:
        session.execute_write(repo.write_back, broken)
    assert _clusters(driver, settings) == before
    events_after = driver.execute_query(
        "MATCH (e:ClusterEvent) RETURN count(e) AS n", database_=settings.NEO4J_DATABASE
    )[0][0]["n"]
    assert events_after == events_before


def test_two_refreshes_never_overlap(seeded: Path, settings: Settings) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(LOCK_KEY, "held-by-another-refresh", ex=60)
    try:
        assert refresh_task.delay().get(timeout=60)["status"] == "skipped"
    finally:
        client.delete(LOCK_KEY)
    assert refresh_task.delay().get(timeout=300)["status"] == "done"
