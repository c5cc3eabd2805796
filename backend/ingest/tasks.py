"""Celery entry points for ingest: batches fold into the journal, one flusher writes the graph."""

from __future__ import annotations

import logging
import random
import time
import uuid
from typing import Any

from celery import Task

from backend.core.config import get_settings
from backend.ingest import service
from backend.ingest.journal import Journal, at_or_after
from workers.app import app
from workers.resources import graph_driver, redis_client

MAX_BACKOFF_S = 30.0
log = logging.getLogger("heracles.ingest")


def _retry(task: Task, exc: Exception) -> Exception:
    """Capped exponential backoff, without limit, while Neo4j or Redis is away."""
    if not service.is_transient(exc) or task.request.called_directly:
        raise exc
    backoff = min(MAX_BACKOFF_S, 0.5 * 2 ** min(task.request.retries, 8))
    retry: Exception = task.retry(exc=exc, countdown=backoff * (0.5 + random.random()))  # noqa: S311
    return retry


@app.task(name="heracles.ingest.apply_batch", bind=True, max_retries=None)
def apply_batch(self: Task, events: list[str], source: str = "") -> dict[str, Any]:
    settings = get_settings()
    batch_id = self.request.id or f"direct-{uuid.uuid4().hex}"
    try:
        result = service.apply_batch(
            redis_client(), batch_id, events, source, settings.INGEST_DEDUPE_TTL_S
        )
    except Exception as exc:
        raise _retry(self, exc) from exc
    return result.as_dict()


@app.task(name="heracles.ingest.flush", bind=True, max_retries=None)
def flush(self: Task, until: str | None = None) -> dict[str, Any]:
    """Drain the journal into the graph. Beat sends one every INGEST_FLUSH_INTERVAL_S; one
    that finds the lock taken returns at once, unless `until` is given: then it returns only
    once the graph holds that journal entry (what `heracles ingest --wait` waits for)."""
    settings = get_settings()
    driver, client = graph_driver(), redis_client()
    journal = Journal(client)
    done: dict[str, Any] = {}
    try:
        while True:
            with journal.flush_lock(settings.INGEST_FLUSH_LOCK_S) as lock:
                if lock is not None:
                    outcome = service.flush(
                        driver, client, settings.NEO4J_DATABASE, lock,
                        settings.INGEST_FLUSH_MAX_EVENTS, settings.INGEST_FLUSH_BUDGET_S,
                        settings.INGEST_DEDUPE_TTL_S,
                    )  # fmt: skip
                    done = outcome.as_dict()
            if until is None:
                return done
            last = service.checkpoint(driver, settings.NEO4J_DATABASE)
            if at_or_after(last, until):
                return {**done, "checkpoint": last}
            time.sleep(0.05)
    except Exception as exc:
        if until is None and service.is_transient(exc):
            # A scheduled flush is not retried: the next one, a second later, is the retry.
            log.warning("flush postponed: %s", exc)
            return {"postponed": str(exc)[:200]}
        raise _retry(self, exc) from exc
