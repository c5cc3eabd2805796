"""The flusher's split rule, with a stand-in session: a window over Neo4j's transaction memory
is written in halves down to one batch, never retried whole forever, never dead-lettered."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest

from backend.ingest.journal import Entry
from backend.ingest.plan import Fold
from backend.ingest.repository import WindowTooLarge
from backend.ingest.service import FlushResult, _merge, _write, is_transient


class MemoryBoundSession:
    """Accepts a window of at most `limit` events, as a transaction memory pool would."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.committed: list[tuple[str, int]] = []

    def execute_write(self, _fn: Any, expected: str, last: str, events: int, _plan: Any) -> None:
        if events > self.limit:
            raise WindowTooLarge("The allocation of an extra 2.0 MiB would use more than ...")
        self.committed.append((last, events))


def _entries(n: int, events: int = 100) -> list[Entry]:
    state = orjson.dumps(Fold().to_state())
    raw = zlib.compress(orjson.dumps([]))
    return [Entry(f"{i + 1}-0", f"b{i}", events, state, raw) for i in range(n)]


def test_a_window_too_large_is_written_in_halves() -> None:
    session = MemoryBoundSession(limit=250)
    result = FlushResult()
    _write(session, None, _merge(_entries(8)), result, 60)  # type: ignore[arg-type]
    assert [last for last, _ in session.committed] == [f"{i}-0" for i in (2, 4, 6, 8)]
    assert sum(n for _, n in session.committed) == 800
    assert (result.events, result.dead_lettered, result.checkpoint) == (800, 0, "8-0")


def test_one_batch_too_large_is_retried_later_not_dead_lettered() -> None:
    session = MemoryBoundSession(limit=50)
    with pytest.raises(WindowTooLarge) as caught:
        _write(session, None, _merge(_entries(1)), FlushResult(), 60)  # type: ignore[arg-type]
    assert is_transient(caught.value)
    assert not session.committed
