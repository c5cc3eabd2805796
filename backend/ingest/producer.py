"""Client side of ingest: validate at the edge, batch, enqueue with backpressure, optionally wait.

Waiting has two steps: every batch's task finished (its fold is in the journal), then a flush
that returns once the graph holds the last of those journal entries.

Used by `heracles ingest` (files), `POST /v1/events` and `heracles dlq replay`, so all three
report rejections the same way and send the same batches.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from backend.events.validation import Rejection, validate
from backend.ingest import dlq
from backend.ingest.journal import Journal, at_or_after


@dataclass
class ProducerStats:
    accepted: int = 0
    rejected: int = 0
    not_kept: int = 0  # rejections the dead-letter store had no room for (`INGEST_DLQ_MAX_BYTES`)
    batches: int = 0
    applied: int = 0
    duplicates: int = 0
    failed_batches: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)


Enqueue = Callable[[list[str], str], AsyncResult]
Flush = Callable[[str], AsyncResult]


def celery_enqueue(events: list[str], source: str) -> AsyncResult:
    from backend.ingest.tasks import apply_batch

    return apply_batch.apply_async(args=[events, source])


def celery_flush(until: str) -> AsyncResult:
    from backend.ingest.tasks import flush

    return flush.apply_async(kwargs={"until": until})


class Producer:
    """Not thread-safe; one per ingest run or request."""

    def __init__(
        self,
        client: redis.Redis,
        batch_size: int,
        max_inflight: int,
        enqueue: Enqueue = celery_enqueue,
        keep_task_ids: bool = False,
        flush_until: Flush = celery_flush,
        max_backlog: int | None = None,
        dlq_max_bytes: int | None = None,
    ) -> None:
        """`max_backlog`: hold each batch back while the journal has this many entries.
        `dlq_max_bytes`: keep rejections only while the dead-letter store is smaller."""
        self.client = client
        self.batch_size = batch_size
        self.max_inflight = max_inflight
        self.enqueue = enqueue
        self.flush_until = flush_until
        self.max_backlog = max_backlog
        self.dlq_max_bytes = dlq_max_bytes
        self._journal = Journal(client)
        self._journal_last: str | None = None
        self.keep_task_ids = keep_task_ids
        self.stats = ProducerStats()
        self._batch: list[str] = []
        self._batch_source = ""
        self._inflight: deque[AsyncResult] = deque()
        self._pending_rejections: list[Rejection] = []

    def add(self, raw: str, source: str, location: str) -> Rejection | None:
        outcome = validate(raw, source, location)
        if isinstance(outcome, Rejection):
            self.reject(outcome)
            return outcome
        self.stats.accepted += 1
        if self._batch and source != self._batch_source:
            self.flush()
        self._batch_source = source
        self._batch.append(raw)
        if len(self._batch) >= self.batch_size:
            self.flush()
        return None

    def reject(self, rejection: Rejection) -> None:
        self.stats.rejected += 1
        self._pending_rejections.append(rejection)
        if len(self._pending_rejections) >= 500:
            self._flush_rejections()

    def _flush_rejections(self) -> None:
        if self._pending_rejections:
            kept = dlq.push(self.client, self._pending_rejections, self.dlq_max_bytes)
            self.stats.not_kept += len(self._pending_rejections) - kept
        self._pending_rejections = []

    def flush(self) -> None:
        self._flush_rejections()
        if not self._batch:
            return
        while len(self._inflight) >= self.max_inflight:
            self._settle(self._inflight.popleft())
        while self.max_backlog is not None and self._journal.backlog() >= self.max_backlog:
            time.sleep(0.05)  # the graph writer is behind: Redis must not absorb the whole file
        result = self.enqueue(self._batch, self._batch_source)
        self.stats.batches += 1
        if self.keep_task_ids:
            self.stats.task_ids.append(result.id)
        self._inflight.append(result)
        self._batch = []

    def _settle(self, result: AsyncResult, timeout: float | None = None) -> None:
        try:
            outcome: dict[str, Any] = result.get(timeout=timeout, propagate=True)
        except CeleryTimeoutError:
            self._inflight.appendleft(result)
            raise
        except Exception:  # the task failed for good; its events are in the DLQ
            self.stats.failed_batches.append(result.id)
            result.forget()
            return
        result.forget()
        entry = outcome.get("journal_id")
        if entry and (self._journal_last is None or not at_or_after(self._journal_last, entry)):
            self._journal_last = entry
        self.stats.applied += int(outcome.get("applied", 0))
        self.stats.duplicates += int(outcome.get("duplicates", 0))

    def wait(self, timeout: float | None = None) -> ProducerStats:
        """Block until every enqueued batch is in the graph (or failed for good)."""
        self.flush()
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.1, deadline - time.monotonic())

        while self._inflight:
            self._settle(self._inflight.popleft(), remaining())
        if self._journal_last is not None:
            flushed = self.flush_until(self._journal_last)
            flushed.get(timeout=remaining(), propagate=True)
            flushed.forget()
            self._journal_last = None
        return self.stats
