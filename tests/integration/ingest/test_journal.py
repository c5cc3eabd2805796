"""The ingest journal against the real Redis and Neo4j: one flusher, exactly once, no poison.

Each test holds the flush lock itself, so the beat-driven flusher stays out of its way, and
calls the service directly (the worker path is covered by test_ingest and test_chaos).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from neo4j import Driver

from backend.core.config import Settings
from backend.events.contract import parse_event
from backend.ingest import dlq, service
from backend.ingest.dedupe import Claims
from backend.ingest.journal import FlushLock, Journal
from backend.ingest.plan import Fold, fold
from backend.ingest.repository import read_checkpoint, write_window
from tests.eventgen import population
from tests.integration.ingest_helpers import (
    flushed_events,
    holding_flush_lock,
    reset_state,
    snapshot,
)

LINES = population(accounts=18, usage_per_account=4)
TTL = 3600


@pytest.fixture
def client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def lock(driver: Driver, settings: Settings) -> Iterator[FlushLock]:
    reset_state(driver, settings)
    with holding_flush_lock(settings) as held:
        yield held


def _stage(client: redis.Redis, batch_id: str, lines: list[str]) -> str:
    result = service.apply_batch(client, batch_id, lines, "test", TTL)
    assert result.journal_id is not None
    return result.journal_id


def _flush(
    driver: Driver, settings: Settings, client: redis.Redis, lock: FlushLock
) -> service.FlushResult:
    return service.flush(driver, client, settings.NEO4J_DATABASE, lock, 50, 60, TTL)


def _thirds() -> list[list[str]]:
    n = len(LINES) // 3
    return [LINES[:n], LINES[n : 2 * n], LINES[2 * n :]]


def test_a_redelivered_batch_is_journaled_once(
    driver: Driver, settings: Settings, client: redis.Redis, lock: FlushLock
) -> None:
    first = _stage(client, "same-batch", LINES[:30])
    again = service.apply_batch(client, "same-batch", LINES[:30], "test", TTL)
    assert again.journal_id == first and again.applied == 30
    other = service.apply_batch(client, "other-batch", LINES[:30], "test", TTL)
    assert (other.applied, other.duplicates, other.journal_id) == (0, 30, None)
    assert Journal(client).backlog() == 1


def test_windows_and_a_crash_between_commit_and_trim_apply_each_batch_once(
    driver: Driver, settings: Settings, client: redis.Redis, lock: FlushLock
) -> None:
    # Reference: the whole population as one batch, one window.
    _stage(client, "whole", LINES)
    assert _flush(driver, settings, client, lock).events == len(LINES)
    reference = snapshot(driver, settings)
    reset_state(driver, settings, lock_held=True)

    ids = [_stage(client, f"third-{i}", part) for i, part in enumerate(_thirds())]
    # The first batch is written and checkpointed, then the flusher "dies" before trimming.
    entry = Journal(client).read("0-0", 1)[0]
    merged = Fold()
    merged.merge_state(entry.fold())
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        session.execute_write(write_window, "0-0", entry.id, entry.events, merged.build())
    assert Journal(client).backlog() == 3

    # Windows of at most 50 events: the next flush trims the first and writes the rest.
    outcome = _flush(driver, settings, client, lock)
    assert outcome.entries == 2 and outcome.checkpoint == ids[-1]
    assert Journal(client).backlog() == 0
    assert flushed_events(driver, settings) == len(LINES)
    assert snapshot(driver, settings) == reference


def test_a_batch_the_graph_refuses_is_dead_lettered_and_blocks_nothing(
    driver: Driver, settings: Settings, client: redis.Redis, lock: FlushLock
) -> None:
    good_a, bad, good_c = _thirds()
    _stage(client, "good-a", good_a)
    # A fold Neo4j refuses for good: a map is not a valid property value.
    fold = Fold()
    fold.merge_state(json.loads(json.dumps(_fold_of(bad))))
    poisoned = fold.to_state()
    label, key, _, props = poisoned["props"][0]
    latest = "9" * 13 + "|poison"  # newer than any stamp, so the write is not skipped
    poisoned["props"][0] = [label, key, latest, {**props, "org": {"nested": True}}]
    Claims(client, TTL).claim("bad", [service.claim_key(parse_event(raw)) for raw in bad])
    Journal(client).append("bad", poisoned, bad, TTL)
    last = _stage(client, "good-c", good_c)

    outcome = _flush(driver, settings, client, lock)

    assert outcome.dead_lettered == 1 and outcome.checkpoint == last
    assert outcome.events == len(good_a) + len(good_c)
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        assert session.execute_read(read_checkpoint) == (last, len(good_a) + len(good_c))
    letters = dlq.read(client)
    assert sorted(e.rejection.raw for e in letters) == sorted(bad)
    assert all(e.rejection.reason.startswith("graph write failed") for e in letters)
    assert {e.rejection.location for e in letters} == {"batch bad"}
    # Its claims were given back, so a replay after the fix applies it.
    replay = service.apply_batch(client, "replay", bad, "test", TTL)
    assert replay.applied == len(bad)
    # The good batches on either side are in the graph.
    accounts = {json.loads(raw).get("account_id") for raw in good_a + good_c} - {None}
    found, _, _ = driver.execute_query(
        "MATCH (a:Account) WHERE a.id IN $ids RETURN count(a)",
        ids=list(accounts),
        database_=settings.NEO4J_DATABASE,
    )
    assert found[0][0] == len(accounts)


def _fold_of(lines: list[str]) -> dict[str, Any]:
    state = fold(parse_event(line) for line in lines).to_state()
    assert state["props"], "the poisoned batch needs an identifier property row"
    return state
