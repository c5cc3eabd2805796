"""Cypher for ingest writes. Every statement is an `UNWIND` over a batch's folded rows.

Labels and relationship types come from `backend.graph.model` (code, never input); all values
are parameters. Rows arrive sorted by key, so concurrent batches take locks in the same order.
"""

from __future__ import annotations

from typing import Any

from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import Neo4jError

from backend.graph.model import (
    ACCOUNT,
    ACCOUNT_INPUTS_CYPHER,
    ACCOUNT_INPUTS_PROPERTY,
    API_TOKEN,
    AUDIT_ENTRY,
    CLUSTER,
    CLUSTER_EVENT,
    DETECTION_RUN,
    IDENTIFIER_LABELS,
    INGEST_CHECKPOINT,
    LINKS,
    NOTE,
    pack_inputs,
)
from backend.ingest.plan import COUNTERS, IDENTIFIER_PROPERTIES, WritePlan

# The journal checkpoint: the last journal entry whose fold is in the graph. It is written in
# the same transaction as the fold, so graph and checkpoint always agree. The SET takes the
# node's write lock before the read, so a second flusher waits and then sees the new value.
LOCK_CHECKPOINT = f"""
MERGE (c:{INGEST_CHECKPOINT} {{name: $name}})
ON CREATE SET c.last = '0-0', c.events = 0
SET c.locked_at = datetime()
"""
READ_CHECKPOINT = f"""
MATCH (c:{INGEST_CHECKPOINT} {{name: $name}})
RETURN c.last AS last, c.events AS events
"""
ADVANCE_CHECKPOINT = f"""
MATCH (c:{INGEST_CHECKPOINT} {{name: $name}})
SET c.last = $last, c.events = c.events + $events, c.flushed_at = datetime()
"""

# Times arrive as epoch milliseconds (cheap to send) and are stored as DateTime.
MERGE_ACCOUNTS = """
UNWIND $rows AS row
WITH row, datetime({epochMillis: row.first}) AS first, datetime({epochMillis: row.last}) AS last
MERGE (a:Account {id: row.id})
ON CREATE SET a.first_seen = first, a.last_seen = last, a.events = row.n
ON MATCH SET
  a.first_seen = CASE WHEN a.first_seen IS NULL OR first < a.first_seen
                      THEN first ELSE a.first_seen END,
  a.last_seen = CASE WHEN a.last_seen IS NULL OR last > a.last_seen THEN last ELSE a.last_seen END,
  a.events = coalesce(a.events, 0) + row.n
"""

# The earliest signup defines the account, whichever arrives first.
APPLY_SIGNUPS = """
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
WITH a, row
WHERE a.signup_stamp IS NULL OR row.stamp < a.signup_stamp
SET a += row.props, a.signup_at = datetime({epochMillis: row.signup_at}),
    a.signup_stamp = row.stamp
"""

ADD_COUNTERS = (
    "UNWIND $rows AS row\n"
    "MATCH (a:Account {id: row.id})\n"
    "SET "
    + ",\n    ".join(f"a.{name} = coalesce(a.{name}, 0) + row.counters.{name}" for name in COUNTERS)
    + ",\n    a.hour_hist = CASE WHEN a.hour_hist IS NULL THEN row.hours"
    " ELSE [i IN range(0, 23) | a.hour_hist[i] + row.hours[i]] END\n"
)

_LINK_TEMPLATE = """
UNWIND $rows AS row
WITH row, datetime({{epochMillis: row.first}}) AS first, datetime({{epochMillis: row.last}}) AS last
MATCH (a:Account {{id: row.account}})
MERGE (i:{label} {{key: row.key}})
MERGE (a)-[r:{rel}]->(i)
ON CREATE SET r.count = row.n, r.first_seen = first, r.last_seen = last
ON MATCH SET
  r.count = r.count + row.n,
  r.first_seen = CASE WHEN first < r.first_seen THEN first ELSE r.first_seen END,
  r.last_seen = CASE WHEN last > r.last_seen THEN last ELSE r.last_seen END
"""
MERGE_LINKS: dict[str, str] = {
    rel: _LINK_TEMPLATE.format(label=label, rel=rel) for rel, label in LINKS.items()
}

# The whole property set of the latest event that carried one wins (see plan.set_props).
_PROPS_TEMPLATE = """
UNWIND $rows AS row
MERGE (i:{label} {{key: row.key}})
WITH i, row
WHERE i.props_stamp IS NULL OR row.stamp > i.props_stamp
SET i += row.props, i.props_stamp = row.stamp
"""
SET_IDENTIFIER_PROPS: dict[str, str] = {
    label: _PROPS_TEMPLATE.format(label=label) for label in IDENTIFIER_PROPERTIES
}

MERGE_EMAILS = """
UNWIND $rows AS row
MERGE (e:Email {key: row.key})
ON CREATE SET e.domain = row.domain, e.local_shape = row.local_shape
ON MATCH SET e.local_shape = CASE WHEN row.local_shape < e.local_shape
                                  THEN row.local_shape ELSE e.local_shape END
MERGE (d:EmailDomain {key: row.domain})
ON CREATE SET d.webmail = row.webmail, d.disposable = row.disposable
MERGE (e)-[:AT_DOMAIN]->(d)
"""

MERGE_IP_STRUCTURE = """
UNWIND $rows AS row
MERGE (ip:IP {key: row.ip})
ON CREATE SET ip.version = row.version
MERGE (s:Subnet {key: row.subnet})
ON CREATE SET s.version = row.version
MERGE (ip)-[:IN_SUBNET]->(s)
FOREACH (asn IN CASE WHEN row.asn IS NULL THEN [] ELSE [row.asn] END |
  MERGE (n:ASN {key: asn}) MERGE (ip)-[:IN_ASN]->(n))
FOREACH (proxy IN CASE WHEN row.proxy IS NULL THEN [] ELSE [row.proxy] END |
  MERGE (p:ProxyProvider {key: proxy}) MERGE (ip)-[:EXIT_OF]->(p))
"""

MERGE_MODEL_RELEASES = """
UNWIND $rows AS row
WITH row, datetime({epochMillis: row.released_at}) AS released
MERGE (m:Model {key: row.key})
SET m.released_at = CASE WHEN m.released_at IS NULL OR released < m.released_at
                         THEN released ELSE m.released_at END
"""

# Derived from the graph itself, so recomputing is idempotent. Runs last in a window, for
# every account the window wrote, so detection's inputs see the window's writes; it returns
# them as lists, which the writer packs (`model.pack_inputs`) and stores with SET_INPUTS.
REFRESH_ACCOUNT_DEGREES = f"""
UNWIND $ids AS id
MATCH (a:Account {{id: id}})
SET a.distinct_ips = COUNT {{ (a)-[:USED_IP]->() }},
    a.distinct_client_fingerprints = COUNT {{ (a)-[:USED_CLIENT]->() }},
    a.distinct_payment_methods = COUNT {{ (a)-[:PAID_WITH]->() }}
RETURN id, {ACCOUNT_INPUTS_CYPHER} AS inputs
"""
SET_INPUTS = f"""
UNWIND $rows AS row
MATCH (a:Account {{id: row.id}})
SET a.{ACCOUNT_INPUTS_PROPERTY} = row.inputs
"""


CHECKPOINT = "journal"


class CheckpointMoved(Exception):
    """Another flusher advanced the checkpoint since this one read the journal."""


# Neo4j's global transaction memory pool (`dbms.memory.transaction.total.max`) is full. The
# server calls it transient, and the driver would retry the same window for its whole retry
# time, fail again, and the flusher would retry it whole forever. Smaller windows fit.
MEMORY_POOL_FULL = "Neo.TransientError.General.MemoryPoolOutOfMemoryError"


class WindowTooLarge(Exception):
    """A window did not fit Neo4j's transaction memory: write it in smaller parts. Not a
    Neo4jError, so the driver's managed transaction does not retry it as it is."""


def read_checkpoint(tx: ManagedTransaction) -> tuple[str, int]:
    record = tx.run(READ_CHECKPOINT, name=CHECKPOINT).single()
    return ("0-0", 0) if record is None else (record["last"], record["events"])


def write_window(
    tx: ManagedTransaction, expected: str, last: str, events: int, plan: WritePlan | None
) -> None:
    """A journal window's fold and the checkpoint move, all or nothing (`plan` None: skip)."""
    tx.run(LOCK_CHECKPOINT, name=CHECKPOINT).consume()
    current, _ = read_checkpoint(tx)
    if current != expected:
        raise CheckpointMoved(f"checkpoint is {current}, expected {expected}")
    if plan is not None:
        try:
            write_plan(tx, plan)
        except Neo4jError as exc:
            if exc.code == MEMORY_POOL_FULL:
                raise WindowTooLarge(str(exc)) from exc
            raise
    tx.run(ADVANCE_CHECKPOINT, name=CHECKPOINT, last=last, events=events).consume()


def write_plan(tx: ManagedTransaction, plan: WritePlan) -> None:
    """A fold's rows, statement by statement in a fixed order (accounts, then identifiers
    kind by kind, then account properties), each an `UNWIND` over rows sorted by key."""
    steps: list[tuple[str, list[Any]]] = [
        (MERGE_ACCOUNTS, plan.accounts),
        (MERGE_MODEL_RELEASES, plan.model_releases),
        (MERGE_EMAILS, plan.emails),
        (MERGE_IP_STRUCTURE, plan.ip_structure),
        *((MERGE_LINKS[rel], rows) for rel, rows in plan.links.items()),
        *((SET_IDENTIFIER_PROPS[label], rows) for label, rows in plan.identifier_props.items()),
        (APPLY_SIGNUPS, plan.signups),
        (ADD_COUNTERS, plan.counters),
    ]
    for query, rows in steps:
        if rows:
            tx.run(query, rows=rows).consume()
    if plan.accounts:
        derived = tx.run(REFRESH_ACCOUNT_DEGREES, ids=plan.account_ids).data()
        packed = pack_inputs([row["inputs"] for row in derived])
        rows = [{"id": row["id"], "inputs": p} for row, p in zip(derived, packed, strict=True)]
        tx.run(SET_INPUTS, rows=rows).consume()


# --- around a backfill (`ingest.backfill`): the importer replaces the store, these do the rest --

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


def count_data(driver: Driver, database: str) -> int:
    records, _, _ = driver.execute_query(COUNT_DATA, labels=list(DATA_LABELS), database_=database)
    return int(records[0]["n"])


def read_tokens(driver: Driver, database: str) -> list[dict[str, Any]]:
    """Every API token's properties, as stored (hash, role, dates): restored after an import."""
    records, _, _ = driver.execute_query(READ_TOKENS, database_=database)
    return [dict(record["props"]) for record in records]


def restore_tokens(driver: Driver, database: str, tokens: list[dict[str, Any]]) -> None:
    if tokens:
        driver.execute_query(RESTORE_TOKENS, tokens=tokens, database_=database)


def write_checkpoint(driver: Driver, database: str, last: str, events: int) -> None:
    driver.execute_query(
        WRITE_CHECKPOINT, name=CHECKPOINT, last=last, events=events, database_=database
    )
