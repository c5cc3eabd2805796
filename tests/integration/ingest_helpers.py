"""Shared by the ingest integration tests and the chaos run: clean state, ingest through Celery,
graph snapshot. Free of the test stack's settings (tests/conftest.py loads those), so
`tests/chaos.py` can use it on its own stack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from neo4j import Driver, GraphDatabase, Session

from backend.core.config import Settings
from backend.graph import touched
from backend.ingest.files import IngestReport, ingest_files
from backend.ingest.journal import JOURNAL, FlushLock
from backend.ingest.producer import Producer
from seed.generate import generate


def wipe_graph(session: Session) -> None:
    """Relationships first, then nodes, in small transactions: dense nodes stay cheap to delete.
    DETACH in the second pass covers anything written in between."""
    session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS").consume()
    session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS").consume()


def reset_state(driver: Driver, settings: Settings, *, lock_held: bool = False) -> None:
    """Empty graph, no remembered event ids, empty journal and DLQ (Celery's keys stay).

    Done under the flush lock (unless the caller holds it), so a flush of an earlier test's
    journal cannot commit into the freshly emptied graph."""
    if not lock_held:
        with holding_flush_lock(settings):
            reset_state(driver, settings, lock_held=True)
        return
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        wipe_graph(session)
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [
        *client.scan_iter("heracles:seen:*", count=1000),
        *client.scan_iter("heracles:dlq:batch:*", count=1000),
        *client.scan_iter("heracles:ingest:staged:*", count=1000),
        JOURNAL,
        touched.TOUCHED,
        touched.TAKEN,
    ]
    if keys:
        client.delete(*keys)
    client.delete("heracles:dlq")


def producer(settings: Settings, batch_size: int = 200) -> Producer:
    return Producer(redis.Redis.from_url(settings.REDIS_URL), batch_size, max_inflight=64)


def write_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(settings: Settings, *paths: Path, batch_size: int = 200) -> IngestReport:
    return ingest_files(list(paths), producer(settings, batch_size), wait=True)


def load_seed(driver: Driver, settings: Settings, out: Path, accounts: int) -> Path:
    """A generated population (seed 3, 5% usage) in an emptied graph, through the real ingest
    path; no refresh (the callers that need clusters run one)."""
    generate(accounts, 3, out, 0.05)
    reset_state(driver, settings)
    report = ingest(settings, out / "events.jsonl.gz", batch_size=2000)
    assert report.stats.rejected == 0 and not report.stats.failed_batches
    return out


def _plain(value: Any) -> Any:
    return value.iso_format() if hasattr(value, "iso_format") else value


def snapshot(driver: Driver, settings: Settings) -> tuple[list[Any], list[Any]]:
    """Every node and relationship with its properties (the journal checkpoint left out)."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:IngestCheckpoint RETURN labels(n) AS labels, properties(n) AS props",
        database_=settings.NEO4J_DATABASE,
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.id, a.key) AS a, "
        "coalesce(b.id, b.key) AS b, properties(r) AS props",
        database_=settings.NEO4J_DATABASE,
    )
    node_rows = sorted(
        repr((sorted(r["labels"]), sorted((k, _plain(v)) for k, v in r["props"].items())))
        for r in nodes
    )
    rel_rows = sorted(
        repr((r["type"], r["a"], r["b"], sorted((k, _plain(v)) for k, v in r["props"].items())))
        for r in rels
    )
    return node_rows, rel_rows


def forget_bookmarks(driver: Driver) -> None:
    """What restarting the process does for a driver after an offline import (see
    `devstack.offline_import`): the store's transaction ids start again, and the driver
    would wait for ids it saw before."""
    driver._query_bookmark_manager = GraphDatabase.bookmark_manager()


def count(driver: Driver, settings: Settings, query: str, **params: Any) -> Any:
    records, _, _ = driver.execute_query(query, params, database_=settings.NEO4J_DATABASE)
    return records[0][0]


def flushed_events(driver: Driver, settings: Settings) -> int:
    """Events the graph holds according to the journal checkpoint."""
    return int(
        count(driver, settings, "OPTIONAL MATCH (c:IngestCheckpoint) RETURN coalesce(c.events, 0)")
    )


@contextmanager
def holding_flush_lock(settings: Settings) -> Iterator[FlushLock]:
    """Keep the beat-driven flusher away from the journal while a test drives it itself."""
    lock = FlushLock(redis.Redis.from_url(settings.REDIS_URL), 300)
    deadline = time.monotonic() + 30
    while not lock.acquire():  # a flush may hold it for a moment
        assert time.monotonic() < deadline, "flush lock never freed"
        time.sleep(0.05)
    try:
        yield lock
    finally:
        lock.release()
