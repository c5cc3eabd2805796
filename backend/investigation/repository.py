"""The investigation API's reads: Cypher constants and the functions that run them, each
returning typed records (`investigation.records`). Every user value is a parameter; labels,
relationship types and sort keys are picked from constants built here, never spliced from input.

Each `*_BY_*` query takes a list of ids (`UNWIND $ids`), and its function returns one result per
id in the order asked: DataLoaders batch a whole page into one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, Query, Record
from neo4j.exceptions import ClientError as Neo4jClientError

from backend.bans.repository import BAN_CANDIDATES, confirmed_gate
from backend.graph.model import (
    CLUSTER_EVENTS_SEQUENCE,
    CURRENT_MEMBERSHIP,
    LINKING,
    LINKS,
    UNLINKED_DOMAIN,
)
from backend.investigation.records import (
    AccountRecord,
    AuditRecord,
    AuditRow,
    BanRecord,
    ClusterRecord,
    ClusterRow,
    FeedEventRecord,
    HeldIdentifierRecord,
    HolderRow,
    IdentifierRecord,
    LineageRecord,
    LinkedRow,
    MemberRow,
    MembershipRecord,
    MemberWhyRecord,
    ModelUseRecord,
    NoteRecord,
    PathRow,
    SharedRow,
    SubgraphRows,
    to_datetime,
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

# The page seeks its cluster's memberships in confidence order through the (cluster,
# confidence) index and stops after $limit (`schema_queries.INDEX_STATEMENTS`), instead of
# sorting all of a large cluster's memberships for each page. The hint keeps it a seek (on a
# small graph the planner preferred scanning the whole index); ordering by `m.cluster` first
# (one value here) is what lets it take the index's order; the cursor's bound on confidence is
# repeated as a range the seek can use. A test reads the plan.
_MEMBERS_IN_ORDER = f"""
MATCH (a:Account)-[m:MEMBER_OF]->(c:Cluster)
USING INDEX SEEK m:MEMBER_OF(cluster, confidence)
WHERE m.cluster = $id AND m.confidence >= $min_confidence
  AND m.confidence <= coalesce($after_c, 1.0e308) AND {CURRENT_MEMBERSHIP}"""
CLUSTER_MEMBERS = f"""{_MEMBERS_IN_ORDER}
  AND ($after_c IS NULL OR m.confidence < $after_c
       OR (m.confidence = $after_c AND a.id > $after_id))
WITH a, m ORDER BY m.cluster DESC, m.confidence DESC, a.id LIMIT $limit
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
SUBGRAPH = f"""{_MEMBERS_IN_ORDER}
WITH a, m ORDER BY m.cluster DESC, m.confidence DESC, a.id LIMIT $limit
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


# --- lookups by id, batched: one result per id, in the order asked ----------------------------

Row = dict[str, Any]


def _row(record: Record) -> Row:
    """The record as a dict of its values as decoded. `Record.data()` walks every value again
    to turn graph objects into dicts (a seventh of the API's CPU on a 100-member page); these
    queries return maps, lists and scalars only."""
    return dict(zip(record.keys(), record.values(), strict=True))


async def _rows(reads: Reads, query: str, collected: bool, **params: Any) -> list[Row]:
    """Rows from a query returning one record per row, or all rows as one list (`collected`:
    `RETURN collect({...}) AS rows`, for page-sized reads; see `read_rows`)."""
    if collected:
        return await read_rows(reads, query, **params)
    return [_row(r) for r in await read(reads, query, **params)]


async def _one_per_id(
    reads: Reads, query: str, ids: list[str], *, collected: bool = False, **params: Any
) -> list[Row | None]:
    found = {r["id"]: r for r in await _rows(reads, query, collected, ids=ids, **params)}
    return [found.get(k) for k in ids]


async def _many_per_id(
    reads: Reads, query: str, ids: list[str], *, collected: bool = False, **params: Any
) -> list[list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for r in await _rows(reads, query, collected, ids=ids, **params):
        grouped.setdefault(r["id"], []).append(r)
    return [grouped.get(k, []) for k in ids]


def membership_of(row: Mapping[str, Any] | None) -> MembershipRecord | None:
    if row is None:
        return None
    return MembershipRecord(row["cluster_id"], row["confidence"], to_datetime(row["since"]))


async def clusters_by_id(reads: Reads, ids: list[str]) -> list[ClusterRecord | None]:
    rows = await _one_per_id(reads, CLUSTERS_BY_ID, ids)
    return [ClusterRecord.of(row["props"]) if row else None for row in rows]


async def accounts_by_id(
    reads: Reads, ids: list[str]
) -> list[tuple[AccountRecord, MembershipRecord | None] | None]:
    """Each account with its membership, read together (an account page and its cluster cost
    one read, not two)."""
    rows = await _one_per_id(reads, ACCOUNTS_BY_ID, ids, collected=True)
    return [
        (AccountRecord.of(row["props"]), membership_of(row["membership"])) if row else None
        for row in rows
    ]


async def memberships_by_account(reads: Reads, ids: list[str]) -> list[MembershipRecord | None]:
    return [membership_of(row) for row in await _one_per_id(reads, MEMBERSHIPS_BY_ACCOUNT, ids)]


async def identifiers_by_account(
    reads: Reads, ids: list[str], rels: list[str], per_account: int
) -> list[list[HeldIdentifierRecord]]:
    rows = await _many_per_id(
        reads, IDENTIFIERS_BY_ACCOUNT, ids, collected=True, rels=rels, per_account=per_account
    )
    return [[HeldIdentifierRecord.of(r) for r in held] for held in rows]


async def identifiers_by_key(
    reads: Reads, label: str, keys: list[str]
) -> list[IdentifierRecord | None]:
    rows = await _one_per_id(reads, IDENTIFIERS_BY_KEY[label], keys)
    return [IdentifierRecord.of(row) if row else None for row in rows]


async def models_by_account(reads: Reads, ids: list[str]) -> list[list[ModelUseRecord]]:
    rows = await _many_per_id(reads, MODELS_BY_ACCOUNT, ids)
    return [[ModelUseRecord.of(r) for r in used] for used in rows]


async def lineage_by_cluster(reads: Reads, ids: list[str]) -> list[LineageRecord]:
    return [LineageRecord.of(row) for row in await _one_per_id(reads, LINEAGE_BY_CLUSTER, ids)]


async def notes_by_cluster(reads: Reads, ids: list[str]) -> list[list[NoteRecord]]:
    rows = await _many_per_id(reads, NOTES_BY_CLUSTER, ids)
    return [[NoteRecord.of(r) for r in notes] for notes in rows]


async def notes_by_account(reads: Reads, ids: list[str]) -> list[list[NoteRecord]]:
    rows = await _many_per_id(reads, NOTES_BY_ACCOUNT, ids)
    return [[NoteRecord.of(r) for r in notes] for notes in rows]


# --- pages: a root field's, or one under a cluster, account or identifier --------------------


async def clusters_page(
    reads: Reads, order: str, filters: dict[str, Any], after_k: Any, after_id: str | None,
    limit: int,
) -> list[ClusterRow]:  # fmt: skip
    records = await read(reads, CLUSTERS[order], **filters, after_k=after_k, after_id=after_id,
                         limit=limit)  # fmt: skip
    return [ClusterRow(r["id"], r["k"], ClusterRecord.of(r["props"])) for r in records]


async def count_clusters(reads: Reads, filters: dict[str, Any]) -> int:
    records = await read(reads, CLUSTER_COUNT, **filters)
    return int(records[0]["n"])


async def feed_head(reads: Reads) -> int:
    records = await read(reads, FEED_HEAD)
    return int(records[0]["seq"])


async def feed_events(reads: Reads, after: int, limit: int) -> list[FeedEventRecord]:
    records = await read(reads, CLUSTER_EVENTS, after=after, limit=limit)
    return [FeedEventRecord.of(r["props"]) for r in records]


async def shortest_path(
    reads: Reads, source: str, target: str, max_hops: int, link_cap: int
) -> PathRow | None:
    """Through identifiers that link in detection only; `max_hops` is one of `PATH`'s."""
    records = await read(reads, PATH[max_hops], cap=link_cap, **{"from": source, "to": target})
    if not records:
        return None
    nodes, rels = records[0]["nodes"], records[0]["rels"]
    accounts = [n["id"] for n in nodes[0::2]]
    links = [(rels[2 * i], ident["key"]) for i, ident in enumerate(nodes[1::2])]
    return PathRow(accounts, links)


async def ban_candidates_page(
    reads: Reads, min_risk: float, min_confidence: float, min_confidence_confirmed: float,
    after_cluster: str | None, after_account: str | None, limit: int,
) -> list[BanRecord]:  # fmt: skip
    records = await read(
        reads, BAN_CANDIDATES, min_risk=min_risk, min_confidence=min_confidence,
        min_confidence_confirmed=confirmed_gate(min_confidence, min_confidence_confirmed),
        after_cluster=after_cluster, after_account=after_account, limit=limit,
    )  # fmt: skip
    return [BanRecord.of(r) for r in records]


async def audit_page(
    reads: Reads, target: str | None, include_members: bool, after_ms: int | None,
    after_id: str | None, limit: int,
) -> list[AuditRow]:  # fmt: skip
    records = await read(reads, AUDIT_LOG, target=target, members=include_members,
                         after_ms=after_ms, after_id=after_id, limit=limit)  # fmt: skip
    return [AuditRow(r["at_ms"], AuditRecord.of(r["props"])) for r in records]


async def members_page(
    reads: Reads, cluster_id: str, min_confidence: float, after_c: float | None,
    after_id: str | None, limit: int,
) -> list[MemberRow]:  # fmt: skip
    rows = await read_rows(
        reads, CLUSTER_MEMBERS, id=cluster_id, min_confidence=min_confidence,
        after_c=after_c, after_id=after_id, limit=limit,
    )  # fmt: skip
    return [
        MemberRow(r["id"], r["confidence"], r["since"], MemberWhyRecord.parse(r["why"]),
                  AccountRecord.of(r["props"]))
        for r in rows
    ]  # fmt: skip


async def subgraph(reads: Reads, cluster_id: str, limit: int, max_identifiers: int) -> SubgraphRows:
    records = await read(
        reads, SUBGRAPH, id=cluster_id, min_confidence=0.0, after_c=None, limit=limit,
        rels=list(LINKING_RELS), max_identifiers=max_identifiers,
    )  # fmt: skip
    if not records:
        return SubgraphRows([], [])
    r = records[0]
    return SubgraphRows(
        [(a["id"], a["confidence"]) for a in r["nodes"]],
        [(i["rel"], i["key"], list(i["holders"])) for i in r["identifiers"]],
    )


async def linked_accounts_page(
    reads: Reads, account_id: str, link_cap: int, after_n: int | None, after_id: str | None,
    limit: int,
) -> list[LinkedRow]:  # fmt: skip
    records = await read(
        reads, LINKED_ACCOUNTS, id=account_id, rels=list(LINKING_RELS), cap=link_cap,
        after_n=after_n, after_id=after_id, limit=limit,
    )  # fmt: skip
    return [
        LinkedRow(r["id"], r["n"], [SharedRow(x["rel"], x["key"], x["degree"])
                                    for x in r["shared"]])
        for r in records
    ]  # fmt: skip


async def identifier_holders_page(
    reads: Reads, label: str, key: str, after: str | None, limit: int
) -> list[HolderRow]:
    records = await read(reads, IDENTIFIER_ACCOUNTS[label], key=key, after=after, limit=limit)
    return [HolderRow(r["id"], r["count"], r["first_seen"], r["last_seen"]) for r in records]
