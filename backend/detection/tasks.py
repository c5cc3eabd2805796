"""Celery entry point of detection: one refresh at a time, whoever asks (beat, CLI, API)."""

from __future__ import annotations

from typing import Any

from backend.core.config import get_settings
from backend.detection.service import refresh
from workers.app import app
from workers.resources import graph_driver, redis_client

LOCK_KEY = "heracles:detection:lock"


@app.task(name="heracles.detection.refresh")
def refresh_task(incremental: bool = False) -> dict[str, Any]:
    """Skips (rather than queues) when a refresh holds the lock: two beats, or a manual refresh
    during a scheduled one, never run two refreshes over each other. The lock expires after
    DETECTION_LOCK_TTL_S, so a worker killed mid-refresh does not block the next one forever.
    `incremental`: only what ingest touched since the last refresh (`service.refresh`)."""
    settings = get_settings()
    client = redis_client()
    lock = client.lock(LOCK_KEY, timeout=settings.DETECTION_LOCK_TTL_S, blocking=False)
    if not lock.acquire():
        return {"status": "skipped", "reason": "another refresh holds the lock"}
    try:
        report = refresh(graph_driver(), settings, client, incremental=incremental)
    finally:
        lock.release()
    return {"status": "done", **report.__dict__}
