"""Ingest with exactly-once effect: workers fold batches into the journal, one flusher writes.

`apply_batch` (a worker, many in parallel):
1. Re-validate (the producer did too; the contract may have changed since) → DLQ the rest.
2. Drop repeats inside the batch; claim the event ids in Redis (`dedupe`).
3. Fold the owned events and append the fold to the journal, once per batch id.

`flush` (one at a time, under the journal's lock): merge a window of journal entries and write
it with the checkpoint move in one transaction (`repository.write_window`). A window the graph
refuses for good is split; an entry refused on its own gives its claims back, goes to the DLQ
with the error, and the checkpoint moves past it, so it never blocks the entries after it.
"""

from __future__ import annotations

import gc
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import redis
from neo4j import Driver, Session
from neo4j.exceptions import DriverError, Neo4jError

from backend.events.contract import Event, parse_event
from backend.events.validation import Rejection, validate
from backend.graph import touched
from backend.ingest import dlq
from backend.ingest.dedupe import Claims
from backend.ingest.journal import Entry, FlushLock, Journal
from backend.ingest.plan import Fold, WritePlan, fold
from backend.ingest.repository import (
    CheckpointMoved,
    WindowTooLarge,
    read_checkpoint,
    write_window,
)

log = logging.getLogger("heracles.ingest")


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    received: int
    applied: int
    duplicates: int
    rejected: int
    journal_id: str | None = None  # the entry the graph must reach for this batch to be in it

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: Neo4j down or busy (deadlock, leader switch), Redis unreachable."""
    if isinstance(exc, WindowTooLarge):
        return True  # one batch that does not fit now may fit later; it is never dead-lettered
    if isinstance(exc, Neo4jError | DriverError):
        return bool(exc.is_retryable())
    return isinstance(
        exc, redis.ConnectionError | redis.TimeoutError | ConnectionError | TimeoutError
    )


def claim_key(event: Event) -> tuple[str, str]:
    day = event.occurred_at  # its own calendar day, as strftime("%Y%m%d") gives, 8x faster
    return event.event_id, f"{day.year:04d}{day.month:02d}{day.day:02d}"


def apply_batch(
    client: redis.Redis,
    batch_id: str,
    raw_events: list[str],
    source: str,
    dedupe_ttl_s: int,
) -> BatchResult:
    events: list[Event] = []
    raws: list[str] = []
    where: list[str] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(raw_events):
        location = f"batch {batch_id} item {index}"
        outcome = validate(raw, source, location)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            events.append(outcome)
            raws.append(raw)
            where.append(location)

    unique: dict[str, tuple[Event, str, str]] = {}
    for event, raw, location in zip(events, raws, where, strict=True):
        unique.setdefault(event.event_id, (event, raw, location))
    claims = Claims(client, dedupe_ttl_s)
    folded, owned, unfoldable = claim_and_fold(claims, batch_id, unique, source)
    rejections += [rejection for _, rejection in unfoldable]
    # A retried or redelivered batch re-validates the same items: keep their rejections once.
    if rejections and client.set(f"heracles:dlq:batch:{batch_id}", 1, nx=True, ex=dedupe_ttl_s):
        dlq.push(client, rejections)
    entry_id = None
    if owned:
        entry_id = Journal(client).append(
            batch_id, folded.to_state(), [raw for _, raw, _ in owned], dedupe_ttl_s
        )
    return BatchResult(batch_id, len(raw_events), len(owned), len(events) - len(owned)
                       - len(unfoldable), len(rejections), entry_id)  # fmt: skip


def claim_and_fold(
    claims: Claims, owner: str, unique: dict[str, tuple[Event, str, str]], source: str
) -> tuple[Fold, list[tuple[Event, str, str]], list[tuple[Event, Rejection]]]:
    """Claim the events' ids for `owner` and fold the ones it owns (ingest's batches and the
    backfill's chunks alike); returns the fold, the owned items and the unfoldable events,
    whose claims go back so a corrected replay of them is not a duplicate."""
    keys = [claim_key(event) for event, _, _ in unique.values()]
    flags = claims.claim(owner, keys)
    owned = [item for item, mine in zip(unique.values(), flags, strict=True) if mine]
    folded, owned, unfoldable = fold_isolating(owned, source)
    if unfoldable:
        claims.release(owner, [claim_key(event) for event, _ in unfoldable])
    return folded, owned, unfoldable


def fold_isolating(
    owned: list[tuple[Event, str, str]], source: str
) -> tuple[Fold, list[tuple[Event, str, str]], list[tuple[Event, Rejection]]]:
    """Fold the batch; should an event fail the fold (validation is meant to stop every such
    event at the edge, so this is the safety net), fold the others without it and return it as
    a rejection: one bad event never costs the good ones beside it."""
    try:
        return fold(event for event, _, _ in owned), owned, []
    except Exception:  # any failure of one event's fold is isolated below
        log.exception("a batch failed to fold; isolating the events that fail")
    good: list[tuple[Event, str, str]] = []
    bad: list[tuple[Event, Rejection]] = []
    for item in owned:
        event, raw, location = item
        try:
            Fold().add(event)
        except Exception as exc:
            reason = f"cannot be folded: {type(exc).__name__}: {exc}"[:2000]
            bad.append((event, Rejection(source, location, "", reason, raw, event.event_id)))
        else:
            good.append(item)
    return fold(event for event, _, _ in good), good, bad


@dataclass
class FlushResult:
    windows: int = 0
    entries: int = 0
    events: int = 0
    dead_lettered: int = 0
    checkpoint: str = "0-0"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# Neo4j reads take no locks: a read racing the commit that moves the checkpoint can meet the
# node's property records mid-rewrite and get null for `last` (neo4j/neo4j#5296 returns null
# there rather than failing; seen once, in bench-robustness right after a backfill --replace).
TORN_READ_RETRIES = 100


def _read_checkpoint(session: Session) -> tuple[str, int]:
    """The committed checkpoint; a torn read (null) is read again."""
    for _ in range(TORN_READ_RETRIES):
        last, events = session.execute_read(read_checkpoint)
        if last is not None:
            return last, events
        time.sleep(0.01)
    raise RuntimeError("the journal checkpoint has no position (`last` is null)")


def checkpoint(driver: Driver, database: str) -> str:
    with driver.session(database=database) as session:
        last, _ = _read_checkpoint(session)
    return last


@dataclass
class _Window:
    entries: list[Entry]
    plan: WritePlan
    events: int
    merge_s: float

    @property
    def last(self) -> str:
        return self.entries[-1].id


def _merge(entries: list[Entry]) -> _Window:
    started = time.perf_counter()
    merged = Fold()
    for entry in entries:
        merged.merge_state(entry.fold())
    plan = merged.build()
    events = sum(entry.events for entry in entries)
    return _Window(entries, plan, events, time.perf_counter() - started)


def _next_window(journal: Journal, after: str, max_events: int) -> _Window | None:
    entries = journal.read(after, max_events)
    return _merge(entries) if entries else None


def flush(
    driver: Driver,
    client: redis.Redis,
    database: str,
    lock: FlushLock,
    max_events: int,
    budget_s: float,
    dedupe_ttl_s: int,
) -> FlushResult:
    """Write journal windows until the journal is empty or `budget_s` is spent.

    The next window is read and merged in a thread while the current one is written: the
    driver waits on Neo4j with the GIL released, so the merge costs no wall time.
    """
    journal = Journal(client)
    result = FlushResult()
    deadline = time.monotonic() + budget_s
    with driver.session(database=database) as session, ThreadPoolExecutor(1) as pool:
        result.checkpoint, _ = _read_checkpoint(session)
        journal.trim(result.checkpoint)  # a flusher that died after its commit left these
        upcoming = pool.submit(_next_window, journal, result.checkpoint, max_events)
        while time.monotonic() < deadline:
            window = upcoming.result()
            if window is None:
                break
            if not lock.extend():
                break  # the lock expired and another flusher may hold it: let it carry on
            upcoming = pool.submit(_next_window, journal, window.last, max_events)
            try:
                _write(session, client, window, result, dedupe_ttl_s)
            except CheckpointMoved:
                break  # another flusher got ahead (our lock had expired): it carries on
            journal.trim(result.checkpoint)
            del window
            # Workers collect rarely (workers.resources.tune_gc); what a window leaves in
            # reference cycles is hundreds of MiB, so it is collected before the next one.
            gc.collect()
    return result


def _write(
    session: Session, client: redis.Redis, window: _Window, result: FlushResult, ttl: int
) -> None:
    """Write one window and move `result.checkpoint` past it. A window refused for good, or
    too large for Neo4j's transaction memory, is split in halves down to single entries."""
    expected, entries = result.checkpoint, window.entries
    started = time.perf_counter()
    accounts = window.plan.account_ids
    touched.mark(client, accounts)  # before the commit too: see backend.graph.touched
    try:
        session.execute_write(write_window, expected, window.last, window.events, window.plan)
    except Exception as exc:
        splittable = isinstance(exc, WindowTooLarge) and len(entries) > 1
        if isinstance(exc, CheckpointMoved) or (is_transient(exc) and not splittable):
            raise
        if len(entries) > 1:
            half = len(entries) // 2
            _write(session, client, _merge(entries[:half]), result, ttl)
            _write(session, client, _merge(entries[half:]), result, ttl)
            return
        _dead_letter(client, entries[0], exc, ttl)
        session.execute_write(write_window, expected, window.last, 0, None)
        result.dead_lettered += 1
    else:
        log.info(
            "flushed %d events from %d batches as %d rows: merge %.2fs, write %.2fs",
            window.events, len(entries), window.plan.rows, window.merge_s,
            time.perf_counter() - started,
        )  # fmt: skip
        touched.mark(client, accounts)
        result.windows += 1
        result.entries += len(entries)
        result.events += window.events
    result.checkpoint = window.last


def _dead_letter(client: redis.Redis, entry: Entry, exc: Exception, ttl: int) -> None:
    """A batch the graph refused for good: free its claims, keep its events in the DLQ."""
    raws = entry.raw_events()
    keys = [claim_key(parse_event(raw)) for raw in raws]
    Claims(client, ttl).release(entry.batch_id, keys)
    reason = f"graph write failed: {type(exc).__name__}: {exc}"[:2000]
    dlq.push(client, (Rejection("journal", f"batch {entry.batch_id}", "", reason, raw)
                      for raw in raws))  # fmt: skip
    log.error("batch %s refused by the graph; its events are in the DLQ", entry.batch_id,
              exc_info=exc)  # fmt: skip
