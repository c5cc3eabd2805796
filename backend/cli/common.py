"""What every command shares: the terminal, and the producer that sends events to the workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from backend.core.config import get_settings

if TYPE_CHECKING:
    from backend.ingest.producer import Producer

console = Console()


def producer(keep_task_ids: bool = False, edge: bool = True) -> Producer:
    """`edge`: new input, whose rejections are kept only within INGEST_DLQ_MAX_BYTES (a replay
    of the dead-letter store itself keeps what fails again)."""
    import redis

    from backend.ingest.producer import Producer

    settings = get_settings()
    client = redis.Redis.from_url(settings.REDIS_URL)
    return Producer(
        client,
        settings.INGEST_BATCH_SIZE,
        settings.INGEST_MAX_INFLIGHT,
        keep_task_ids=keep_task_ids,
        max_backlog=settings.INGEST_MAX_JOURNAL_BACKLOG,
        dlq_max_bytes=settings.INGEST_DLQ_MAX_BYTES if edge else None,
    )
