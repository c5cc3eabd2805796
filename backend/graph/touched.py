"""Accounts ingest wrote since detection last looked: what an incremental refresh recomputes.

A Redis set rather than a property in the graph: the graph a backfill builds must equal the one
ingest builds (tests compare them property by property), and a mark is bookkeeping, not data.

Ingest marks a window's accounts before its commit and again after it: the first mark survives a
flusher killed between the commit and the second, the second survives a refresh that took the
marks while the commit was in flight. A mark lost anyway (Redis restarted without its data)
costs only freshness: the scheduled full refresh recomputes everything.

A refresh moves the marks aside when it starts (`take`) and drops them when it has committed
(`done`); a refresh that dies leaves them aside, and the next one takes them again with the new.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

TOUCHED = "heracles:detection:touched"
TAKEN = "heracles:detection:touched:taken"
CHUNK = 10_000

# Atomic: marks added while a refresh starts are either taken by it or left for the next one.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
end
return redis.call('SCARD', KEYS[2])
"""


def mark(client: redis.Redis, accounts: Iterable[str]) -> None:
    ids = list(accounts)
    if not ids:
        return
    with client.pipeline(transaction=False) as pipe:
        for i in range(0, len(ids), CHUNK):
            pipe.sadd(TOUCHED, *ids[i : i + CHUNK])
        pipe.execute()


def take(client: redis.Redis) -> set[str]:
    """Every account marked and not yet accounted for by a committed refresh."""
    if not int(client.eval(_TAKE, 2, TOUCHED, TAKEN)):
        return set()
    return {
        m.decode() if isinstance(m, bytes) else str(m)
        for m in client.sscan_iter(TAKEN, count=CHUNK)
    }


def done(client: redis.Redis) -> None:
    client.delete(TAKEN)


def pending(client: redis.Redis) -> int:
    """Marks waiting for a refresh (new and taken by a refresh that has not committed)."""
    return int(client.scard(TOUCHED)) + int(client.scard(TAKEN))
