"""Event-id claims on the test stack's Redis: who owns an event, in live and staging buckets."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest
import redis

from backend.core.config import Settings
from backend.ingest import dedupe
from backend.ingest.backfill import promote_claims
from backend.ingest.bulk import STAGING, clear_staging, copy_staging, unlink_matching
from backend.ingest.dedupe import HASHTABLE_MARKER, SEEN, Claims, bucket
from devstack.scratch_redis import scratch_redis

TTL = 3600
DAY, OTHER_DAY = "20000101", "20000102"  # days no other test's events fall on


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = "heracles:test:claims:"
    unlink_matching(client, f"{prefix}*")
    yield client
    unlink_matching(client, f"{prefix}*")


def _one_bucket(n: int) -> list[str]:
    """`n` event ids of one bucket: every claim of them goes to one key."""
    found: list[str] = []
    i = 0
    while len(found) < n:
        eid = f"e-{i}"
        if zlib.crc32(eid.encode()) % dedupe.BUCKETS_PER_DAY == 0:
            found.append(eid)
        i += 1
    return found


def test_an_event_is_owned_by_the_first_batch_and_again_by_it_on_redelivery(
    client: redis.Redis,
) -> None:
    claims = Claims(client, TTL, "heracles:test:claims:")
    first = [(f"u-{i}", DAY) for i in range(300)] + [("u-0", "20260213")]  # another day's u-0
    assert claims.claim("batch-a", first) == [True] * len(first)
    # Another batch gets only what is new; the first one, redelivered, keeps what it holds.
    second = [(f"u-{i}", DAY) for i in range(250, 350)]
    assert claims.claim("batch-b", second) == [i >= 300 for i in range(250, 350)]
    assert claims.claim("batch-a", first[::-1]) == [True] * len(first)
    # Given back (a batch that failed for good), its events are free for a later delivery.
    assert claims.release("batch-b", second) == 50
    assert claims.claim("batch-c", second) == [i >= 300 for i in range(250, 350)]


def test_claims_in_one_bucket_past_a_slice_keep_their_order(
    client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedupe, "SLICE", 3)  # Lua's `unpack` limit, made small
    claims = Claims(client, TTL, "heracles:test:claims:")
    ids = _one_bucket(11)
    assert claims.claim("batch-a", [(eid, DAY) for eid in ids[:5]]) == [True] * 5
    mixed = [(eid, DAY) for eid in ids[3:]]  # two held by batch-a, then eight new
    assert claims.claim("batch-b", mixed) == [False, False] + [True] * 6
    held = client.hgetall(bucket(ids[0], DAY, "heracles:test:claims:"))
    assert held == {eid.encode(): (b"batch-a" if i < 5 else b"batch-b") for i, eid in
                    enumerate(ids)}  # fmt: skip


def test_staging_buckets_are_hash_tables_and_promotion_hands_over_claims_only(
    client: redis.Redis,
) -> None:
    clear_staging(client)
    live, staged = _one_bucket(2), _one_bucket(5)[2:]
    unlink_matching(client, f"{SEEN}{DAY}:0")
    unlink_matching(client, f"{SEEN}{OTHER_DAY}:0")
    Claims(client, TTL).claim("ingest-batch", [(eid, DAY) for eid in live])
    assert client.object("encoding", bucket(live[0], DAY)) == b"listpack"  # small, compact
    staging = Claims(client, TTL, STAGING, HASHTABLE_MARKER)
    flags = staging.claim("~0", [(eid, DAY) for eid in [live[0], *staged]])
    assert flags == [True] * 4
    assert staging.claim("~1", [(eid, OTHER_DAY) for eid in staged]) == [True] * 3
    assert client.object("encoding", bucket(live[0], DAY, STAGING)) == b"hashtable"
    # Not yet ingest's: until promotion, ingest does not skip what the backfill claimed.
    assert not client.hexists(bucket(staged[0], DAY), staged[0])

    assert promote_claims(client, TTL) >= 1
    held = client.hgetall(bucket(live[0], DAY))
    # Ingest's own claim stays; the staged ones join it; the marker is not a claim.
    assert held == {live[0].encode(): b"ingest-batch", live[1].encode(): b"ingest-batch",
                    **{eid.encode(): b"~0" for eid in staged}}  # fmt: skip
    assert not list(client.scan_iter(match=f"{STAGING}*"))
    # A bucket with no live one beside it is ingest's as it was, compact again.
    other = bucket(staged[0], OTHER_DAY)
    assert client.hgetall(other) == {eid.encode(): b"~1" for eid in staged}
    assert client.object("encoding", other) == b"listpack"
    assert 0 < client.ttl(other) <= TTL
    unlink_matching(client, f"{SEEN}{DAY}:0")
    unlink_matching(client, f"{SEEN}{OTHER_DAY}:0")


def test_a_staging_bucket_whose_claims_were_all_given_back_is_not_promoted(
    client: redis.Redis,
) -> None:
    clear_staging(client)
    ids = _one_bucket(2)
    unlink_matching(client, f"{SEEN}{DAY}:0")
    staging = Claims(client, TTL, STAGING, HASHTABLE_MARKER)
    staging.claim("~0", [(eid, DAY) for eid in ids])
    assert staging.release("~0", [(eid, DAY) for eid in ids]) == 2
    promote_claims(client, TTL)
    assert not client.exists(bucket(ids[0], DAY))
    assert not list(client.scan_iter(match=f"{STAGING}*"))


def test_a_staging_bucket_past_a_listpack_is_handed_over_whole(client: redis.Redis) -> None:
    clear_staging(client)
    ids = _one_bucket(600)  # over Redis's 512-entry listpack
    unlink_matching(client, f"{SEEN}{DAY}:0")
    Claims(client, TTL, STAGING, HASHTABLE_MARKER).claim("~0", [(eid, DAY) for eid in ids])
    promote_claims(client, TTL)
    live = bucket(ids[0], DAY)
    assert client.hgetall(live) == {eid.encode(): b"~0" for eid in ids}
    assert 0 < client.ttl(live) <= TTL
    assert Claims(client, TTL).claim("ingest-batch", [(ids[7], DAY)]) == [False]
    unlink_matching(client, f"{SEEN}{DAY}:0")


def test_claims_staged_in_a_scratch_redis_reach_the_stack_s_whole(client: redis.Redis) -> None:
    """The backfill's claims server's buckets arrive in the stack's Redis as they were
    (owners, hash tables, a TTL), and promotion takes them from there."""
    clear_staging(client)
    ids = _one_bucket(600)
    unlink_matching(client, f"{SEEN}{DAY}:0")
    with scratch_redis() as url:
        assert url is not None, "redis-server is installed wherever the stack runs"
        scratch = redis.Redis.from_url(url)
        staging = Claims(scratch, TTL, STAGING, HASHTABLE_MARKER)
        staging.claim("~0", [(eid, DAY) for eid in ids[:400]])
        staging.claim("~1", [(eid, OTHER_DAY) for eid in ids[:3]])
        assert not list(client.scan_iter(match=f"{STAGING}*"))  # nothing in the stack's yet
        assert copy_staging(scratch, client, TTL) == 2
        assert scratch.dbsize() == 0
    staged = bucket(ids[0], DAY, STAGING)
    assert client.hlen(staged) == 401  # the marker too
    assert client.object("encoding", staged) == b"hashtable"
    assert 0 < client.ttl(staged) <= TTL
    # Promoted, an id the backfill loaded is a repeat for ingest; a new one is not.
    assert promote_claims(client, TTL) == 2
    claims = Claims(client, TTL)
    assert claims.claim("ingest-batch", [(ids[5], DAY), (ids[500], DAY)]) == [False, True]
    assert client.hget(bucket(ids[5], DAY), ids[5]) == b"~0"
    unlink_matching(client, f"{SEEN}{DAY}:0")
    unlink_matching(client, f"{SEEN}{OTHER_DAY}:0")
