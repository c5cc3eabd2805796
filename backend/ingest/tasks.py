"""Celery entry point for ingest: a batch of raw events in, the service does the work."""

from __future__ import annotations

import random
import uuid
from typing import Any

from celery import Task

from backend.core.config import get_settings
from backend.ingest import service
from workers.app import app
from workers.resources import graph_driver, redis_client

MAX_BACKOFF_S = 30.0


@app.task(name="heracles.ingest.apply_batch", bind=True, max_retries=None)
def apply_batch(self: Task, events: list[str], source: str = "") -> dict[str, Any]:
    """Retries with capped exponential backoff, without limit, while Neo4j or Redis is away."""
    settings = get_settings()
    batch_id = self.request.id or f"direct-{uuid.uuid4().hex}"
    try:
        result = service.apply_batch(
            graph_driver(), redis_client(), settings.NEO4J_DATABASE, batch_id, events, source,
            settings.INGEST_DEDUPE_TTL_S,
        )  # fmt: skip
    except Exception as exc:
        if not service.is_transient(exc) or self.request.called_directly:
            raise
        backoff = min(MAX_BACKOFF_S, 0.5 * 2 ** min(self.request.retries, 8))
        raise self.retry(exc=exc, countdown=backoff * (0.5 + random.random())) from exc  # noqa: S311
    return result.as_dict()
