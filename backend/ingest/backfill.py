"""Bulk backfill: a platform's history into an empty graph through Neo4j's offline importer.

The steps around the importer (`devstack.offline_import` runs it):

- before: refuse unless the graph holds no data and the journal is empty (`preflight`);
  keep the API tokens, which live in the graph (`read_tokens`);
- fold the files (`backend.ingest.bulk`), claiming event ids in staging buckets;
- after: schema (`heracles db migrate`, which also packs detection's per-account inputs: the
  importer's CSV cannot carry Cypher-derived bytes), tokens, and the journal checkpoint
  (`finish`), then
  the staging claims become ingest's own (`promote_claims`), so an overlapping
  `heracles ingest` or `POST /v1/events` later applies only what is new.

Claims are promoted last: should anything before fail, ingest never skips an event the graph
does not hold (a rerun clears the staging claims and starts again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from neo4j import Driver

from backend.graph.model import (
    ACCOUNT,
    API_TOKEN,
    AUDIT_ENTRY,
    CLUSTER,
    CLUSTER_EVENT,
    DETECTION_RUN,
    IDENTIFIER_LABELS,
    INGEST_CHECKPOINT,
    NOTE,
)
from backend.graph.schema_queries import migrate
from backend.ingest.bulk import STAGING, unlink_matching
from backend.ingest.dedupe import SEEN
from backend.ingest.journal import JOURNAL, Journal
from backend.ingest.repository import CHECKPOINT

# Labels of what the graph knows about the platform (an import replaces them all).
DATA_LABELS = (ACCOUNT, *IDENTIFIER_LABELS, CLUSTER, CLUSTER_EVENT, DETECTION_RUN, NOTE,
               AUDIT_ENTRY)  # fmt: skip
COUNT_DATA = "MATCH (n) WHERE any(label IN labels(n) WHERE label IN $labels) RETURN count(n) AS n"
READ_TOKENS = f"MATCH (t:{API_TOKEN}) RETURN properties(t) AS props"
RESTORE_TOKENS = f"UNWIND $tokens AS props CREATE (t:{API_TOKEN}) SET t = props"
WRITE_CHECKPOINT = f"""
MERGE (c:{INGEST_CHECKPOINT} {{name: $name}})
SET c.last = $last, c.events = $events, c.flushed_at = datetime()
"""

# KEYS: a staging bucket, its live bucket. ARGV: ttl. The live bucket gets every claim the
# staging one holds, except ids it already has (those were ingest's before the backfill).
_PROMOTE = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  local pairs = redis.call('HGETALL', KEYS[1])
  for i = 1, #pairs, 2 do redis.call('HSETNX', KEYS[2], pairs[i], pairs[i + 1]) end
  redis.call('DEL', KEYS[1])
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1
"""


class NotEmpty(RuntimeError):
    """The graph or the journal holds data a backfill would replace."""


@dataclass(frozen=True)
class Preflight:
    data_nodes: int
    journal_backlog: int


def preflight(driver: Driver, database: str, client: redis.Redis, replace: bool) -> Preflight:
    records, _, _ = driver.execute_query(COUNT_DATA, labels=list(DATA_LABELS), database_=database)
    found = Preflight(int(records[0]["n"]), Journal(client).backlog())
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


def read_tokens(driver: Driver, database: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(READ_TOKENS, database_=database)
    return [dict(record["props"]) for record in records]


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
) -> list[str]:
    """Schema, tokens and checkpoint on the imported graph; returns the constraints."""
    constraints = migrate(driver, database)
    if tokens:
        driver.execute_query(RESTORE_TOKENS, tokens=tokens, database_=database)
    driver.execute_query(
        WRITE_CHECKPOINT, name=CHECKPOINT, last=last, events=events, database_=database
    )
    return constraints


def promote_claims(client: redis.Redis, ttl_s: int) -> int:
    """Staging claims → ingest's claims, bucket by bucket; returns the buckets moved."""
    script = client.register_script(_PROMOTE)
    moved = 0
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=f"{STAGING}*", count=1000):
        staging = key.decode()
        script(keys=[staging, SEEN + staging[len(STAGING) :]], args=[ttl_s], client=pipe)
        moved += 1
        if moved % 1000 == 0:
            pipe.execute()
    pipe.execute()
    return moved
