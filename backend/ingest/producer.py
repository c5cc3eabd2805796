"""Client side of ingest: validate at the edge, batch, enqueue with backpressure, optionally wait.

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


@dataclass
class ProducerStats:
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    applied: int = 0
    duplicates: int = 0
    failed_batches: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)


Enqueue = Callable[[list[str], str], AsyncResult]


def celery_enqueue(events: list[str], source: str) -> AsyncResult:
    from backend.ingest.tasks import apply_batch

    return apply_batch.apply_async(args=[events, source])


class Producer:
    """Not thread-safe; one per ingest run or request."""

    def __init__(
        self,
        client: redis.Redis,
        batch_size: int,
        max_inflight: int,
        enqueue: Enqueue = celery_enqueue,
        keep_task_ids: bool = False,
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.max_inflight = max_inflight
        self.enqueue = enqueue
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
        dlq.push(self.client, self._pending_rejections)
        self._pending_rejections = []

    def flush(self) -> None:
        self._flush_rejections()
        if not self._batch:
            return
        while len(self._inflight) >= self.max_inflight:
            self._settle(self._inflight.popleft())
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
        self.stats.applied += int(outcome.get("applied", 0))
        self.stats.duplicates += int(outcome.get("duplicates", 0))

    def wait(self, timeout: float | None = None) -> ProducerStats:
        """Block until every enqueued batch is committed (or failed for good)."""
        self.flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._inflight:
            remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
            self._settle(self._inflight.popleft(), remaining)
        return self.stats
