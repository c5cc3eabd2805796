"""Apply one batch of raw events to the graph with exactly-once effect.

1. Re-validate (the producer did too; the contract may have changed since) → DLQ the rest.
2. Drop repeats inside the batch; claim the event ids in Redis (`dedupe`).
3. Fold the owned events into a `WritePlan` and write it in one transaction whose first
   statement creates the batch's commit marker: a redelivered batch finds it and stops.
A batch that fails for good gives its claims back and goes to the DLQ whole, with the error.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import redis
from neo4j import Driver
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError

from backend.events.contract import Event
from backend.events.validation import Rejection, validate
from backend.ingest import dlq
from backend.ingest.dedupe import Claims
from backend.ingest.plan import build_plan
from backend.ingest.repository import write_plan

log = logging.getLogger("heracles.ingest")


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    received: int
    applied: int
    duplicates: int
    rejected: int
    already_committed: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: Neo4j down or busy (deadlock, leader switch), Redis unreachable."""
    if isinstance(exc, Neo4jError | DriverError):
        return bool(exc.is_retryable())
    return isinstance(
        exc, redis.ConnectionError | redis.TimeoutError | ConnectionError | TimeoutError
    )


def _claim_key(event: Event) -> tuple[str, str]:
    return event.event_id, event.occurred_at.strftime("%Y%m%d")


def apply_batch(
    driver: Driver,
    client: redis.Redis,
    database: str,
    batch_id: str,
    raw_events: list[str],
    source: str,
    dedupe_ttl_s: int,
) -> BatchResult:
    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(raw_events):
        outcome = validate(raw, source, f"batch {batch_id} item {index}")
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            events.append(outcome)
    # A retried or redelivered batch re-validates the same items: keep their rejections once.
    if rejections and client.set(f"heracles:dlq:batch:{batch_id}", 1, nx=True, ex=dedupe_ttl_s):
        dlq.push(client, rejections)

    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    keys = [_claim_key(event) for event in unique.values()]
    claims = Claims(client, dedupe_ttl_s)
    owned_flags = claims.claim(batch_id, keys)
    owned = [event for event, mine in zip(unique.values(), owned_flags, strict=True) if mine]
    duplicates = len(events) - len(owned)
    result = BatchResult(batch_id, len(raw_events), len(owned), duplicates, len(rejections))
    if not owned:
        return result

    plan = build_plan(owned)
    try:
        with driver.session(database=database) as session:
            session.execute_write(write_plan, batch_id, plan)
    except ConstraintError as exc:
        if "IngestBatch" not in str(exc):
            _give_up(client, claims, batch_id, owned, raw_events, source, exc)
            raise
        # Our marker already exists: an earlier delivery of this very batch committed.
        return BatchResult(batch_id, len(raw_events), 0, len(events), len(rejections), True)
    except Exception as exc:
        if is_transient(exc):
            raise  # claims stay ours: the retry of this batch re-claims them as its own
        _give_up(client, claims, batch_id, owned, raw_events, source, exc)
        raise
    return result


def _give_up(
    client: redis.Redis,
    claims: Claims,
    batch_id: str,
    owned: list[Event],
    raw_events: list[str],
    source: str,
    exc: Exception,
) -> None:
    """A batch that failed for good: free its claims, keep all its events in the DLQ."""
    claims.release(batch_id, [_claim_key(event) for event in owned])
    reason = f"batch failed: {type(exc).__name__}: {exc}"[:2000]
    dlq.push(
        client, (Rejection(source, f"batch {batch_id}", "", reason, raw) for raw in raw_events)
    )
    log.error("batch %s failed for good; its events are in the DLQ", batch_id, exc_info=exc)
