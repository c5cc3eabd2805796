"""The ingest journal: folded batches waiting in a Redis stream for the one graph writer.

Workers fold a batch and append the fold here (with the batch's own raw events, compressed, in
case the graph refuses it). The flusher (`backend.ingest.service.flush`) merges a window of
entries and writes it to Neo4j in one transaction that also advances a checkpoint there, so the
checkpoint and the graph can never disagree; entries at or before the checkpoint are then
trimmed.

Why one writer: every batch links to the same hot nodes (models, popular exits), and a
relationship write locks its ends (or their relationship groups), so concurrent batch
transactions serialised on those locks and deadlocked (measured: two writers were no faster
than one, docs/benchmarks.md). One writer fed merged windows never waits for a lock, and a
window folds repeats across batches into single rows.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import redis

JOURNAL = "heracles:ingest:journal"
FLUSH_LOCK = "heracles:ingest:flush-lock"

# KEYS: journal, the batch's staged marker. ARGV: ttl, batch id, events, fold, raw.
# A redelivered batch finds its marker and gets its first entry's id back: appended once.
_STAGE = """
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], '*', 'batch', ARGV[2], 'events', ARGV[3],
                      'fold', ARGV[4], 'raw', ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', tonumber(ARGV[1]))
return id
"""

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class FlushLock:
    """Held by at most one flusher; the graph-side checkpoint is the real guard if it expires."""

    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        self._client = client
        self._extend = client.register_script(_EXTEND_LOCK)
        self._release = client.register_script(_RELEASE_LOCK)
        self._token = uuid.uuid4().hex
        self._ttl_ms = int(ttl_s * 1000)

    def acquire(self) -> bool:
        return bool(self._client.set(FLUSH_LOCK, self._token, nx=True, px=self._ttl_ms))

    def extend(self) -> bool:
        return bool(self._extend(keys=[FLUSH_LOCK], args=[self._token, self._ttl_ms]))

    def release(self) -> None:
        self._release(keys=[FLUSH_LOCK], args=[self._token])


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    batch_id: str
    events: int
    fold_json: bytes  # decoded only while merging, so a window holds one decoded fold at a time
    raw: bytes  # zlib of a JSON list of the raw events the fold came from

    def fold(self) -> dict[str, Any]:
        state: dict[str, Any] = orjson.loads(self.fold_json)
        return state

    def raw_events(self) -> list[str]:
        events: list[str] = orjson.loads(zlib.decompress(self.raw))
        return events


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def at_or_after(entry_id: str, target: str) -> bool:
    return entry_key(entry_id) >= entry_key(target)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Journal:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._stage = client.register_script(_STAGE)

    def append(self, batch_id: str, fold: dict[str, Any], raw_events: list[str], ttl_s: int) -> str:
        """Append a batch's fold once, however often the batch is delivered; returns its id."""
        # orjson: the fold is the bulk of what a worker writes and the flusher reads
        # (measured 13 → 6 µs per event to encode, with the GC tuning in workers.resources).
        raw = zlib.compress(orjson.dumps(raw_events), 1)
        body = orjson.dumps(fold)
        entry_id = self._stage(
            keys=[JOURNAL, f"heracles:ingest:staged:{batch_id}"],
            args=[ttl_s, batch_id, fold["events"], body, raw],
        )
        return _text(entry_id)

    def read(self, after: str, max_events: int, page: int = 8) -> list[Entry]:
        """The entries after `after`, oldest first, up to about `max_events` events (at least
        one). Paged, so a long journal is never pulled into memory beyond the window."""
        entries: list[Entry] = []
        total = 0
        start = f"({after}"
        while True:
            rows: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrange(  # type: ignore[assignment]
                JOURNAL, start, "+", count=page
            )
            for raw_id, fields in rows:
                events = int(fields[b"events"])
                if entries and total + events > max_events:
                    return entries
                entries.append(
                    Entry(_text(raw_id), _text(fields[b"batch"]), events, fields[b"fold"],
                          fields[b"raw"])
                )  # fmt: skip
                total += events
            if len(rows) < page:
                return entries
            start = f"({entries[-1].id}"

    def trim(self, upto: str) -> None:
        """Drop every entry at or before `upto` (the graph has them)."""
        ms, seq = entry_key(upto)
        self.client.xtrim(JOURNAL, minid=f"{ms}-{seq + 1}", approximate=False)

    def backlog(self) -> int:
        return int(self.client.xlen(JOURNAL))

    @contextmanager
    def flush_lock(self, ttl_s: float) -> Iterator[FlushLock | None]:
        """The flush lock if it is free (else None), released on exit."""
        lock = FlushLock(self.client, ttl_s)
        if not lock.acquire():
            yield None
            return
        try:
            yield lock
        finally:
            lock.release()
