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

# ARGV: owner, ttl seconds, bucket prefix, marker ("" for none), slice, then one JSON array
# [bucket, id, bucket, id, ...]. Returns one character per event: 1 where this batch owns it
# (newly or already), 0 where another batch does. The ids are grouped by bucket here, and a
# bucket read (`HMGET`) and written (`HSET`) a slice of ids at a time (Lua's `unpack` has a
# limit) rather than an id at a time. The buckets travel inside the JSON, not as KEYS:
# redis-py spent ~6 µs per argument building a 50,000-argument call, more than Redis spent on
# the claims (so this script needs a single Redis, not a cluster, as every claim script here
# does).
_CLAIM = """
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
local prefix = ARGV[3]
local marker = ARGV[4]
local slice = tonumber(ARGV[5])
local items = cjson.decode(ARGV[6])
local groups = {}
local order = {}
for i = 1, #items / 2 do
  local key = prefix .. items[2 * i - 1]
  local group = groups[key]
  if group == nil then
    group = {}
    groups[key] = group
    order[#order + 1] = key
  end
  group[#group + 1] = i
end
local flags = {}
for _, key in ipairs(order) do
  local group = groups[key]
  if marker ~= '' and redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, marker, '1')
  end
  for first = 1, #group, slice do
    local last = math.min(first + slice - 1, #group)
    local ids = {}
    for j = first, last do ids[#ids + 1] = items[2 * group[j]] end
    local held = redis.call('HMGET', key, unpack(ids))
    local fresh = {}
    for j = first, last do
      local holder = held[j - first + 1]
      if holder == false then
        fresh[#fresh + 1] = ids[j - first + 1]
        fresh[#fresh + 1] = owner
        flags[group[j]] = '1'
      elseif holder == owner then
        flags[group[j]] = '1'
      else
        flags[group[j]] = '0'
      end
    end
    if #fresh > 0 then redis.call('HSET', key, unpack(fresh)) end
  end
  redis.call('EXPIRE', key, ttl)
end
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
SLICE = 2000  # ids per HMGET: an HSET of twice as many arguments stays under `unpack`'s limit
# A field longer than any event id (at most 128 characters, the contract) and than Redis's
# `hash-max-listpack-value` (64): a bucket holding it is a hash table from its first write.
# A listpack bucket is searched end to end on every claim, so filling one to Redis's 512
# entries costs 15-18 µs per id near the end, and the backfill's staging buckets fill to
# ~1,100 ids a day at the `full` preset. Redis CPU per id, ad hoc (3.3M ids of three days,
# interleaved, in chunks of 25,000; AOF on): 9.2 µs an id at a time, 7.9 µs a bucket at a
# time, 5.9 µs with the marker. Ingest's own buckets keep listpacks: a day's live traffic
# spread over 1,024 buckets is small, and a listpack is a third of a hash table's memory.
HASHTABLE_MARKER = "~" * 130


def bucket(event_id: str, day: str, prefix: str = SEEN) -> str:
    return f"{prefix}{day}:{zlib.crc32(event_id.encode()) % BUCKETS_PER_DAY}"


class Claims:
    """`prefix`: where the buckets live (a bulk backfill claims in its own staging buckets
    and promotes them to `SEEN` once its graph is in place, `backend.ingest.backfill`)."""

    def __init__(
        self, client: redis.Redis, ttl_s: int, prefix: str = SEEN, marker: str = ""
    ) -> None:
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.marker = marker  # `HASHTABLE_MARKER`, or "" for buckets Redis sizes itself

    def claim(self, owner: str, keys: Sequence[tuple[str, str]]) -> list[bool]:
        """`keys` are (event_id, yyyymmdd); returns, per key, whether `owner` may apply it."""
        if not keys:
            return []
        items: list[str] = []
        for eid, day in keys:
            items += (f"{day}:{zlib.crc32(eid.encode()) % BUCKETS_PER_DAY}", eid)
        result = self._claim(
            keys=[],
            args=[owner, self.ttl_s, self.prefix, self.marker, SLICE, orjson.dumps(items)],
        )
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
