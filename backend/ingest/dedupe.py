"""Event-id claims in Redis: which batch owns each event, so a duplicate applies once.

A batch claims its event ids before writing. An id already claimed by *another* batch is a
duplicate and skipped: that batch either committed it or, if its worker died, will be
redelivered under the same id and re-claim it as its own. Claims live in hash buckets
(per occurred_at day, sharded by id) that expire `ttl` after their last use.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import redis

BUCKETS_PER_DAY = 1024

# KEYS: one bucket per event; ARGV: owner, ttl seconds, then the event ids.
# Returns 1 per event this batch owns (newly or already), 0 where another batch owns it.
_CLAIM = """
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
local result = {}
local touched = {}
for i = 1, #KEYS do
  local id = ARGV[i + 2]
  if redis.call('HSETNX', KEYS[i], id, owner) == 1 or redis.call('HGET', KEYS[i], id) == owner then
    result[i] = 1
  else
    result[i] = 0
  end
  touched[KEYS[i]] = true
end
for key, _ in pairs(touched) do redis.call('EXPIRE', key, ttl) end
return result
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


def bucket(event_id: str, day: str) -> str:
    return f"heracles:seen:{day}:{zlib.crc32(event_id.encode()) % BUCKETS_PER_DAY}"


class Claims:
    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self.ttl_s = ttl_s

    def claim(self, owner: str, keys: Sequence[tuple[str, str]]) -> list[bool]:
        """`keys` are (event_id, yyyymmdd); returns, per key, whether `owner` may apply it."""
        if not keys:
            return []
        result = self._claim(
            keys=[bucket(eid, day) for eid, day in keys],
            args=[owner, self.ttl_s, *(eid for eid, _ in keys)],
        )
        return [bool(flag) for flag in result]

    def release(self, owner: str, keys: Sequence[tuple[str, str]]) -> int:
        if not keys:
            return 0
        return int(
            self._release(
                keys=[bucket(eid, day) for eid, day in keys],
                args=[owner, *(eid for eid, _ in keys)],
            )
        )
