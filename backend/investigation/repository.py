"""Cypher for the investigation API. Every user value is a parameter; labels, relationship types
and sort keys are picked from constants built here, never spliced from input.

Each `*_BY_*` query takes a list of ids (`UNWIND $ids`): DataLoaders batch a whole page into one
round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, Query
from neo4j.exceptions import ClientError as Neo4jClientError

from backend.graph.model import (
    CLUSTER_EVENTS_SEQUENCE,
    CURRENT_MEMBERSHIP,
    LINKING,
    LINKS,
    UNLINKED_DOMAIN,
)

# Identifier kinds that link accounts (detection's projection): the ones worth expanding.
LINKING_RELS: tuple[str, ...] = tuple(rel for rel in LINKS if rel in LINKING)
LABEL_OF_REL = LINKS
REL_OF_LABEL = {label: rel for rel, label in LINKS.items()}

# An identifier's holder count read from the degree store (a constant type per branch).
_DEGREE = (
    "CASE type(r) "
    + " ".join(f"WHEN '{rel}' THEN COUNT {{ (i)<-[:{rel}]-() }}" for rel in LINKS)
    + " END"
)
# Webmail and disposable domains never link accounts (`UNLINKED_DOMAIN`, as in detection).
_LINKS_ACCOUNTS = f"NOT (type(r) = 'EMAIL_DOMAIN' AND {UNLINKED_DOMAIN})"

# Every property, with the temporal ones as epoch milliseconds: hydrating Neo4j DateTime values
# into Python objects was a sixth of the API's CPU on a 100-member page. `ACCOUNT_TEMPORALS`
# must name every temporal property an account can have (an integration test checks it).
ACCOUNT_TEMPORALS = ("signup_at", "first_seen", "last_seen", "verdict_at")
# Each account's current membership comes along (an account is in at most one cluster): the
# account's own page asks for it, and a second read per request cost a fifth of the API's CPU.
# Rows come back as one list in one record (`read_rows`), as in the other page-sized reads.
_ACCOUNT_PROPS = f"a {{.*, {', '.join(f'{p}: a.{p}.epochMillis' for p in ACCOUNT_TEMPORALS)}}}"
ACCOUNTS_BY_ID = f"""
UNWIND $ids AS id
MATCH (a:Account {{id: id}})
RETURN collect({{
  id: id,
  props: {_ACCOUNT_PROPS},
  membership: [(a)-[m:MEMBER_OF]->(c:Cluster) WHERE {CURRENT_MEMBERSHIP} |
    {{id: id, cluster_id: c.id, confidence: m.confidence, since: m.since.epochMillis}}][0]
}}) AS rows
"""

MEMBERSHIPS_BY_ACCOUNT = f"""
UNWIND $ids AS id
MATCH (:Account {{id: id}})-[m:MEMBER_OF]->(c:Cluster)
WHERE {CURRENT_MEMBERSHIP}
RETURN id, c.id AS cluster_id, m.confidence AS confidence, m.since.epochMillis AS since
"""

# At most $per_account per account, the most recently used first: an account that cycled
# through 50,000 exits must not make one page of members return millions of rows.
IDENTIFIERS_BY_ACCOUNT = f"""
UNWIND $ids AS id
MATCH (a:Account {{id: id}})
CALL {{
  WITH a
  MATCH (a)-[r]->(i)
  WHERE type(r) IN $rels
  RETURN r, i ORDER BY r.last_seen DESC, type(r), i.key LIMIT $per_account
}}
WITH id, type(r) AS rel, i, r
ORDER BY id, rel, i.key
RETURN collect({{id: id, rel: rel, key: i.key, count: r.count,
                first_seen: r.first_seen.epochMillis, last_seen: r.last_seen.epochMillis,
                degree: {_DEGREE}}}) AS rows
"""

MODELS_BY_ACCOUNT = """
UNWIND $ids AS id
MATCH (:Account {id: id})-[u:USED_MODEL]->(m:Model)
RETURN id, m.key AS model, u.count AS count, u.first_seen.epochMillis AS first_seen,
       u.last_seen.epochMillis AS last_seen, m.released_at.epochMillis AS released_at
ORDER BY id, first_seen
"""

# Accounts that share a linking identifier with $id, ranked by how many they share. Hubs above
# $cap holders (carrier NAT, big companies' proxies) are not expanded, as in detection.
LINKED_ACCOUNTS = f"""
MATCH (a:Account {{id: $id}})-[r]->(i)
WHERE type(r) IN $rels AND {_LINKS_ACCOUNTS}
WITH a, r, i, {_DEGREE} AS degree
WHERE degree >= 2 AND degree <= $cap
MATCH (i)<-[r2]-(b:Account)
WHERE type(r2) = type(r) AND b <> a
WITH b, collect({{rel: type(r), key: i.key, degree: degree}}) AS shared
WITH b, shared, size(shared) AS n
WHERE $after_n IS NULL OR n < $after_n OR (n = $after_n AND b.id > $after_id)
RETURN b.id AS id, n, shared
ORDER BY n DESC, id
LIMIT $limit
"""

IDENTIFIERS_BY_KEY: dict[str, str] = {
    label: f"""
UNWIND $ids AS id
MATCH (i:{label} {{key: id}})
RETURN id, i.key AS key, properties(i) AS props, COUNT {{ (i)<-[:{rel}]-() }} AS degree
"""
    for rel, label in LINKS.items()
}

IDENTIFIER_ACCOUNTS: dict[str, str] = {
    label: f"""
MATCH (:{label} {{key: $key}})<-[r:{rel}]-(a:Account)
WHERE $after IS NULL OR a.id > $after
RETURN a.id AS id, r.count AS count, r.first_seen.epochMillis AS first_seen,
       r.last_seen.epochMillis AS last_seen
ORDER BY id
LIMIT $limit
"""
    for rel, label in LINKS.items()
}

# A cluster staged by a refresh still in progress ('pending') does not exist yet for readers.
CLUSTERS_BY_ID = """
UNWIND $ids AS id
MATCH (c:Cluster {id: id}) WHERE coalesce(c.status, '') <> 'pending'
RETURN id, properties(c) AS props
"""

# One query per sort order (ORDER BY cannot take a parameter); keyset pagination on (key, id).
_CLUSTER_SORT_KEYS = {
    "RISK": "coalesce(c.risk, 0.0)",
    "SIZE": "coalesce(c.size, 0)",
    "REFRESHED": "c.refreshed_at.epochMillis",
    "CREATED": "c.created_at.epochMillis",
}
# The triage filter, shared by the page and its count.
_CLUSTER_FILTER = """
MATCH (c:Cluster)
WHERE coalesce(c.status, '') <> 'pending' AND ($status IS NULL OR c.status = $status)
  AND coalesce(c.risk, 0.0) >= $min_risk
  AND coalesce(c.size, 0) >= $min_size
  AND ($verdict IS NULL OR coalesce(c.verdict, 'NONE') = $verdict)"""
CLUSTERS: dict[str, str] = {
    order: f"""{_CLUSTER_FILTER}
WITH c, {key} AS k
WHERE $after_k IS NULL OR k < $after_k OR (k = $after_k AND c.id > $after_id)
RETURN c.id AS id, k, properties(c) AS props
ORDER BY k DESC, id
LIMIT $limit
"""
    for order, key in _CLUSTER_SORT_KEYS.items()
}

CLUSTER_COUNT = f"""{_CLUSTER_FILTER}
RETURN count(c) AS n
"""

CLUSTER_MEMBERS = f"""
MATCH (c:Cluster {{id: $id}})<-[m:MEMBER_OF]-(a:Account)
WHERE {CURRENT_MEMBERSHIP} AND m.confidence >= $min_confidence
  AND ($after_c IS NULL OR m.confidence < $after_c
       OR (m.confidence = $after_c AND a.id > $after_id))
WITH a, m ORDER BY m.confidence DESC, a.id LIMIT $limit
RETURN collect({{id: a.id, confidence: m.confidence, since: m.since.epochMillis, why: m.why,
                 props: {_ACCOUNT_PROPS}}}) AS rows
"""

LINEAGE_BY_CLUSTER = """
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
RETURN id,
  [(c)-[r:DERIVED_FROM]->(p:Cluster) | {cluster: p.id, kind: r.kind, at: r.at}] AS parents,
  [(ch:Cluster)-[r:DERIVED_FROM]->(c) | {cluster: ch.id, kind: r.kind, at: r.at}] AS children
"""

NOTES_BY_CLUSTER = """
UNWIND $ids AS id
MATCH (:Cluster {id: id})<-[:ABOUT]-(n:Note)
RETURN id, n.id AS note_id, n.text AS text, n.author AS author, n.at AS at
ORDER BY id, at
"""

NOTES_BY_ACCOUNT = """
UNWIND $ids AS id
MATCH (:Account {id: id})<-[:ABOUT]-(n:Note)
RETURN id, n.id AS note_id, n.text AS text, n.author AS author, n.at AS at
ORDER BY id, at
"""

# The most confident members and the identifiers at least two of them share.
SUBGRAPH = f"""
MATCH (c:Cluster {{id: $id}})<-[m:MEMBER_OF]-(a:Account)
WHERE {CURRENT_MEMBERSHIP}
WITH a, m ORDER BY m.confidence DESC, a.id LIMIT $limit
WITH collect(a) AS accounts, collect({{id: a.id, confidence: m.confidence}}) AS nodes
CALL (accounts) {{
  UNWIND accounts AS a
  MATCH (a)-[r]->(i)
  WHERE type(r) IN $rels AND {_LINKS_ACCOUNTS}
  WITH i, type(r) AS rel, collect(a.id) AS holders
  WHERE size(holders) >= 2
  WITH i, rel, holders ORDER BY size(holders) DESC, rel, i.key LIMIT $max_identifiers
  RETURN collect({{rel: rel, key: i.key, holders: holders}}) AS identifiers
}}
RETURN nodes, identifiers
"""

# Variable-length bounds cannot be parameters: one constant per hop count. Each hop is account
# -> identifier <- account through an identifier held by at most $cap accounts and not a
# webmail or disposable domain, as detection links: a chain through a carrier NAT says
# nothing, and expanding a hub of 20,000 holders at every hop is what made paths slow.
MAX_PATH_HOPS = 6
_HOP = (
    f"(()-[r:{'|'.join(LINKING_RELS)}]->(i)<-[:{'|'.join(LINKING_RELS)}]-(:Account) "
    f"WHERE COUNT {{ (i)<--() }} <= $cap AND {_LINKS_ACCOUNTS})"
)
PATH: dict[int, str] = {
    hops: f"""
MATCH (a:Account {{id: $from}}), (b:Account {{id: $to}})
MATCH p = SHORTEST 1 (a){_HOP}{{1,{hops}}}(b)
RETURN [n IN nodes(p) | {{labels: labels(n), id: n.id, key: n.key}}] AS nodes,
       [r IN relationships(p) | type(r)] AS rels
"""
    for hops in range(1, MAX_PATH_HOPS + 1)
}

CLUSTER_EVENTS = """
MATCH (e:ClusterEvent) WHERE e.seq > $after
RETURN properties(e) AS props
ORDER BY e.seq
LIMIT $limit
"""

# The change feed's latest seq: where a new poller starts, and how far behind an old one is.
FEED_HEAD = f"""
OPTIONAL MATCH (s:Sequence {{name: '{CLUSTER_EVENTS_SEQUENCE}'}})
RETURN coalesce(s.value, 0) AS seq
"""

# With $members, a cluster's trail also holds what was done to its current members (an account
# excluded from it is audited on the account).
AUDIT_LOG = f"""
MATCH (e:AuditEntry)
WHERE ($target IS NULL OR e.target_id = $target
       OR ($members AND e.target_kind = 'account' AND EXISTS {{
             MATCH (:Account {{id: e.target_id}})-[m:MEMBER_OF]->(c:Cluster {{id: $target}})
             WHERE {CURRENT_MEMBERSHIP} }}))
  AND ($after_ms IS NULL OR e.at.epochMillis < $after_ms
       OR (e.at.epochMillis = $after_ms AND e.id > $after_id))
RETURN properties(e) AS props, e.at.epochMillis AS at_ms
ORDER BY e.at DESC, e.id
LIMIT $limit
"""


@dataclass(frozen=True)
class Reads:
    """Where the API's reads go, and how long one may run before Neo4j ends it
    (`API_QUERY_TIMEOUT_S`): no request holds a server thread and its memory for longer."""

    driver: AsyncDriver
    database: str
    timeout_s: float


TIMED_OUT = "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"


class QueryTimedOut(Exception):
    """A read ran past `API_QUERY_TIMEOUT_S` and Neo4j ended it (shown to the client)."""


async def read_rows(reads: Reads, query: str, /, **params: Any) -> list[dict[str, Any]]:
    """For reads that return a page as one list (`RETURN collect({...}) AS rows`): the driver
    pays about 40 µs of Python per record (a message, its chunks, a pass over its values), so
    a 100-row page read as 100 records cost ~4 ms of the API's CPU; as one record, once."""
    records = await read(reads, query, **params)
    return list(records[0]["rows"]) if records else []


async def read(reads: Reads, query: str, /, **params: Any) -> list[Any]:
    """One auto-commit read: RUN + PULL in a single round trip. `execute_query` wraps each
    statement in an explicit transaction (BEGIN ... COMMIT), which costs a second round trip
    and about a third of the API's CPU on small lookups; reads need neither its retries nor
    its atomicity (the API retries nothing: a failed read is an error to the client)."""
    async with reads.driver.session(
        database=reads.database, default_access_mode=READ_ACCESS
    ) as session:
        try:
            result = await session.run(Query(query, timeout=reads.timeout_s), params)
            return [record async for record in result]
        except Neo4jClientError as exc:
            if exc.code != TIMED_OUT:
                raise
            raise QueryTimedOut(
                f"the query ran past the {reads.timeout_s:g} s limit and was stopped: "
                "ask for less (smaller pages, fewer fields or aliases)"
            ) from exc
