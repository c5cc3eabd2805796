"""The dead-letter store: a Redis stream (durable with AOF) of rejected events and why.

Nothing is trimmed automatically: an entry leaves only when `heracles dlq replay` ingested it
or an operator deletes it. What the edge rejects (`heracles ingest`, `POST /v1/events`) is kept
only while the stream uses less than `INGEST_DLQ_MAX_BYTES` of Redis memory: past that, anyone
with an ingest token could fill Redis with garbage. Those rejections are still reported to the
sender, counted as not kept; what the workers dead-letter (events that passed the edge) is
always kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from backend.events.validation import Rejection

DLQ_STREAM = "heracles:dlq"
MAX_RAW_CHARS = 1 << 20


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    rejection: Rejection
    rejected_at: float


ENTRY_OVERHEAD = 200  # bytes a stream entry costs beyond its raw text (ids, field names)


def push(client: redis.Redis, rejections: Iterable[Rejection], max_bytes: int | None = None) -> int:
    """Store rejections; returns how many were kept (all, unless `max_bytes` is reached)."""
    pipe = client.pipeline(transaction=False)
    n = 0
    now = f"{time.time():.3f}"
    budget = None
    if max_bytes is not None:
        used: Any = client.memory_usage(DLQ_STREAM, samples=5)
        budget = max_bytes - int(used or 0)
    for r in rejections:
        raw = r.raw if len(r.raw) <= MAX_RAW_CHARS else r.raw[:MAX_RAW_CHARS]
        if budget is not None:
            budget -= len(raw) + ENTRY_OVERHEAD
            if budget < 0:
                break
        pipe.xadd(
            DLQ_STREAM,
            {
                "source": r.source, "location": r.location, "field": r.field,
                "reason": r.reason, "raw": raw, "event_id": r.event_id,
                "truncated": "1" if len(r.raw) > MAX_RAW_CHARS else "0", "rejected_at": now,
            },
        )  # fmt: skip
        n += 1
    if n:
        pipe.execute()
    return n


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _decode(entry_id: Any, fields: Any) -> DeadLetter:
    f = {_text(k): _text(v) for k, v in (fields or {}).items()}
    rejection = Rejection(
        f.get("source", ""), f.get("location", ""), f.get("field", ""), f.get("reason", ""),
        f.get("raw", ""), f.get("event_id", ""),
    )  # fmt: skip
    return DeadLetter(_text(entry_id), rejection, float(f.get("rejected_at", "0") or 0))


def read(
    client: redis.Redis, after: str = "-", count: int = 100, until: str = "+"
) -> list[DeadLetter]:
    """Entries in arrival order after `after` (exclusive; "-" = from the start) up to `until`."""
    start = "-" if after == "-" else f"({after}"
    entries: Any = client.xrange(DLQ_STREAM, min=start, max=until, count=count)
    return [_decode(entry_id, fields) for entry_id, fields in entries or []]


def read_last_id(client: redis.Redis) -> str | None:
    entries: Any = client.xrevrange(DLQ_STREAM, count=1)
    return _text(entries[0][0]) if entries else None


def size(client: redis.Redis) -> int:
    return int(client.xlen(DLQ_STREAM))


def delete(client: redis.Redis, entry_ids: list[str]) -> int:
    return int(client.xdel(DLQ_STREAM, *entry_ids)) if entry_ids else 0
