"""Bulk backfill: a platform's history into an empty graph through Neo4j's offline importer.

The steps around the importer (`devstack.offline_import` runs it):

- before: refuse unless the graph holds no data and the journal is empty (`preflight`);
  keep the API tokens, which live in the graph (`read_tokens`);
- fold the files (`backend.ingest.bulk`), claiming event ids in staging buckets;
- after: schema (`heracles db migrate`; detection's packed per-account inputs came in the
  importer's files, `import_files.account_inputs`), tokens, and the journal checkpoint
  (`finish`), then the staging claims become ingest's own (`promote_claims`), so an overlapping
  `heracles ingest` or `POST /v1/events` later applies only what is new.

The "after" steps run once the imported store answers and before the stack's API, beat and
worker start again (`devstack.offline_import.replace_store`'s `when_imported`): an event
ingested between the restart and the hand-over of claims would be applied a second time, and
with `--replace` the old graph's journal, dropped here, would lose what had reached it. Claims
are promoted last: should anything before fail, ingest never skips an event the graph does
not hold (a rerun clears the staging claims and starts again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from neo4j import Driver

from backend.graph.schema_queries import apply_schema, fill_account_inputs
from backend.ingest import repository as q
from backend.ingest.bulk import STAGING, unlink_matching
from backend.ingest.dedupe import HASHTABLE_MARKER, SEEN
from backend.ingest.journal import JOURNAL, Journal

# KEYS: a staging bucket, its live bucket. ARGV: ttl, the staging buckets' marker (not a
# claim: `dedupe.HASHTABLE_MARKER`), Redis's listpack limit. The live bucket gets every claim
# the staging one holds, except ids it already has (those were ingest's before the backfill).
# A bucket that fits a listpack is written anew, so that it is one again (a third of a hash
# table's memory; the marker made every staging bucket a hash table).
_PROMOTE = """
redis.call('HDEL', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('HLEN', KEYS[1]) > tonumber(ARGV[3]) then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  local pairs = redis.call('HGETALL', KEYS[1])
  for i = 1, #pairs, 2 do redis.call('HSETNX', KEYS[2], pairs[i], pairs[i + 1]) end
  redis.call('DEL', KEYS[1])
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1
"""
LISTPACK_ENTRIES = 512  # Redis's `hash-max-listpack-entries` default


class NotEmpty(RuntimeError):
    """The graph or the journal holds data a backfill would replace."""


@dataclass(frozen=True)
class Preflight:
    data_nodes: int
    journal_backlog: int
    tokens: list[dict[str, Any]]  # API tokens' properties: kept across a `--replace`


def preflight(driver: Driver, database: str, client: redis.Redis, replace: bool) -> Preflight:
    found = Preflight(
        q.count_data(driver, database), Journal(client).backlog(), q.read_tokens(driver, database)
    )
    if replace:
        return found
    if found.data_nodes:
        raise NotEmpty(
            f"the graph holds {found.data_nodes:,} nodes of data (accounts, identifiers, "
            "clusters, notes); a backfill loads an empty graph. Nothing was changed. Use "
            "`heracles ingest` to add to it, or `--replace` to replace it (clusters, verdicts, "
            "notes and the audit trail go too; API tokens are kept)"
        )
    if found.journal_backlog:
        raise NotEmpty(
            f"the ingest journal holds {found.journal_backlog} folded batches not yet in the "
            "graph; wait for them (`heracles ingest --wait`) or use `--replace`. Nothing was "
            "changed"
        )
    return found


def forget_ingest_state(client: redis.Redis) -> None:
    """`--replace`: the old graph's pending journal and claims go with it (the claims would
    make a later ingest skip events the new graph does not hold)."""
    client.delete(JOURNAL)
    for pattern in (f"{SEEN}*", "heracles:ingest:staged:*"):
        unlink_matching(client, pattern)


def journal_position(client: redis.Redis) -> str:
    """The journal's last id: entries after it are new to the backfilled graph."""
    try:
        info: Any = client.xinfo_stream(JOURNAL)
    except redis.ResponseError:  # no journal yet
        return "0-0"
    last = info["last-generated-id"]
    return last.decode() if isinstance(last, bytes) else str(last)


def finish(
    driver: Driver, database: str, tokens: list[dict[str, Any]], last: str, events: int
) -> int:
    """Schema, tokens and checkpoint on the imported graph; returns how many accounts came
    without detection's packed inputs (packed here; 0 when the importer files carried them)."""
    packed = fill_account_inputs(driver, database)
    apply_schema(driver, database)
    q.restore_tokens(driver, database, tokens)
    q.write_checkpoint(driver, database, last, events)
    return packed


def promote_claims(client: redis.Redis, ttl_s: int) -> int:
    """Staging claims → ingest's claims, bucket by bucket; returns the buckets moved."""
    script = client.register_script(_PROMOTE)
    moved = 0
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=f"{STAGING}*", count=1000):
        staging = key.decode()
        script(
            keys=[staging, SEEN + staging[len(STAGING) :]],
            args=[ttl_s, HASHTABLE_MARKER, LISTPACK_ENTRIES],
            client=pipe,
        )
        moved += 1
        if moved % 1000 == 0:
            pipe.execute()
    pipe.execute()
    return moved
