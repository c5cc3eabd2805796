"""Event-id claims in Redis: which batch owns each event, so a duplicate applies once.

A batch claims its event ids before writing. An id already claimed by *another* batch is a
duplicate and skipped: that batch either committed it or, if its worker died, will be
redelivered under the same id and re-claim it as its own. Claims live in hash buckets
(per occurred_at day, sharded by id) that expire `ttl` after their last use.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import orjson
import redis

BUCKETS_PER_DAY = 1024

# ARGV: owner, ttl seconds, bucket prefix, then one JSON array [bucket, id, bucket, id, ...].
# Returns one character per event: 1 where this batch owns it (newly or already), 0 where
# another batch does. The buckets travel inside the JSON, not as KEYS: redis-py spent ~6 µs
# per argument building a 50,000-argument call, more than Redis spent on the claims (so this
# script needs a single Redis, not a cluster, as every claim script here does).
_CLAIM = """
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
local prefix = ARGV[3]
local items = cjson.decode(ARGV[4])
local flags = {}
local touched = {}
for i = 1, #items, 2 do
  local key = prefix .. items[i]
  local id = items[i + 1]
  if redis.call('HSETNX', key, id, owner) == 1 or redis.call('HGET', key, id) == owner then
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
  touched[key] = true
end
for key, _ in pairs(touched) do redis.call('EXPIRE', key, ttl) end
return table.concat(flags)
"""

# Give back this batch's claims (a batch that failed for good) so a later delivery can apply.
_RELEASE = """
local owner = ARGV[1]
local released = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], ARGV[i + 1]) == owner then
    redis.call('HDEL', KEYS[i], ARGV[i + 1])
    released = released + 1
  end
end
return released
"""


SEEN = "heracles:seen:"


def bucket(event_id: str, day: str, prefix: str = SEEN) -> str:
    return f"{prefix}{day}:{zlib.crc32(event_id.encode()) % BUCKETS_PER_DAY}"


class Claims:
    """`prefix`: where the buckets live (a bulk backfill claims in its own staging buckets
    and promotes them to `SEEN` once its graph is in place, `backend.ingest.backfill`)."""

    def __init__(self, client: redis.Redis, ttl_s: int, prefix: str = SEEN) -> None:
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self.ttl_s = ttl_s
        self.prefix = prefix

    def claim(self, owner: str, keys: Sequence[tuple[str, str]]) -> list[bool]:
        """`keys` are (event_id, yyyymmdd); returns, per key, whether `owner` may apply it."""
        if not keys:
            return []
        items: list[str] = []
        for eid, day in keys:
            items += (f"{day}:{zlib.crc32(eid.encode()) % BUCKETS_PER_DAY}", eid)
        result = self._claim(keys=[], args=[owner, self.ttl_s, self.prefix, orjson.dumps(items)])
        flags = result.decode() if isinstance(result, bytes) else str(result)
        return [flag == "1" for flag in flags]

    def release(self, owner: str, keys: Sequence[tuple[str, str]]) -> int:
        if not keys:
            return 0
        return int(
            self._release(
                keys=[bucket(eid, day, self.prefix) for eid, day in keys],
                args=[owner, *(eid for eid, _ in keys)],
            )
        )
