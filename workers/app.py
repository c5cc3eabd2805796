"""The one Celery app: Redis broker, late acks, JSON only, and the beat schedule.

Tasks live beside the services they call (`backend/<domain>/tasks.py`) and are found by
autodiscovery; this module only wires the transport.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init

from backend.core.config import get_settings

BEAT_ALIVE_KEY = "heracles:beat:pid"

settings = get_settings()

app = Celery("heracles")
app.conf.update(
    broker_url=settings.REDIS_URL,
    result_backend=settings.REDIS_URL,
    # A task is acknowledged only after it finished; if its worker dies it is redelivered.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    result_expires=24 * 3600,
    task_default_queue="heracles",
    broker_transport_options={"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT_S},
    result_backend_transport_options={"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT_S},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
    beat_schedule={
        "heracles.system.heartbeat": {
            "task": "heracles.system.heartbeat",
            "schedule": 60.0,
        },
        "heracles.ingest.flush": {
            "task": "heracles.ingest.flush",
            "schedule": settings.INGEST_FLUSH_INTERVAL_S,
            # A flush that waited longer than its interval is redundant: a newer one follows.
            # Nobody reads a scheduled flush's result: not stored (one a second otherwise).
            "options": {"expires": settings.INGEST_FLUSH_INTERVAL_S * 5, "ignore_result": True},
        },
        "heracles.detection.refresh": {
            "task": "heracles.detection.refresh",
            "schedule": float(settings.DETECTION_REFRESH_INTERVAL_S),
        },
        **(
            {
                "heracles.detection.refresh-incremental": {
                    "task": "heracles.detection.refresh",
                    "schedule": float(settings.DETECTION_INCREMENTAL_INTERVAL_S),
                    "kwargs": {"incremental": True},
                    # One waiting behind a full refresh is redundant: the next follows soon.
                    "options": {"expires": settings.DETECTION_INCREMENTAL_INTERVAL_S},
                }
            }
            if settings.DETECTION_INCREMENTAL_INTERVAL_S > 0
            else {}
        ),
    },
)
app.autodiscover_tasks(
    ["backend.system", "backend.ingest", "backend.detection"], related_name="tasks", force=True
)


@beat_init.connect
def _announce_beat(sender: Any = None, **_: Any) -> None:
    """Lets `heracles up` tell a running beat from one that crashed while starting."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.set(BEAT_ALIVE_KEY, os.getpid())
    finally:
        client.close()
