"""The read side behind the API: each function runs one repository query and returns typed
records (a root field's page, a cluster's members or subgraph, an account's links, an
identifier's holders), so the GraphQL resolvers only map records to types and hold no Cypher.
Lookups by id, batched per request, go through `backend/api/graphql/dataloaders/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.bans.repository import BAN_CANDIDATES
from backend.investigation import repository as q
from backend.investigation.records import (
    AccountRecord,
    AuditRecord,
    BanRecord,
    ClusterRecord,
    FeedEventRecord,
    MemberWhyRecord,
)
from backend.investigation.repository import Reads


@dataclass(frozen=True, slots=True)
class ClusterQuery:
    """The triage filter (`status` None: any status; `verdict` "NONE": nobody reviewed it)."""

    status: str | None = "active"
    min_risk: float = 0.0
    min_size: int = 0
    verdict: str | None = None

    def params(self) -> dict[str, Any]:
        return {"status": self.status, "min_risk": self.min_risk, "min_size": self.min_size,
                "verdict": self.verdict}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClusterRow:
    id: str
    sort_key: Any  # the value it is ordered by: the page's cursor holds it
    record: ClusterRecord


@dataclass(frozen=True, slots=True)
class PathRow:
    """Accounts in order, and between each two the identifier they share (its relationship
    type from the account, its key)."""

    account_ids: list[str]
    links: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AuditRow:
    at_ms: int  # the page's cursor holds it
    record: AuditRecord


def _after(key: Sequence[Any] | None) -> tuple[Any, Any]:
    return (key[0], key[1]) if key else (None, None)


async def clusters_page(
    reads: Reads, order: str, query: ClusterQuery, after: Sequence[Any] | None, limit: int
) -> list[ClusterRow]:
    after_k, after_id = _after(after)
    records = await q.read(reads, q.CLUSTERS[order], **query.params(), after_k=after_k,
                           after_id=after_id, limit=limit)  # fmt: skip
    return [ClusterRow(r["id"], r["k"], ClusterRecord.of(r["props"])) for r in records]


async def count_clusters(reads: Reads, query: ClusterQuery) -> int:
    records = await q.read(reads, q.CLUSTER_COUNT, **query.params())
    return int(records[0]["n"])


async def feed_head(reads: Reads) -> int:
    records = await q.read(reads, q.FEED_HEAD)
    return int(records[0]["seq"])


async def feed_events(reads: Reads, after: int, limit: int) -> list[FeedEventRecord]:
    records = await q.read(reads, q.CLUSTER_EVENTS, after=after, limit=limit)
    return [FeedEventRecord.of(r["props"]) for r in records]


async def shortest_path(
    reads: Reads, source: str, target: str, max_hops: int, link_cap: int
) -> PathRow | None:
    """Through identifiers that link in detection only; `max_hops` is one of `q.PATH`'s."""
    records = await q.read(reads, q.PATH[max_hops], cap=link_cap,
                           **{"from": source, "to": target})  # fmt: skip
    if not records:
        return None
    nodes, rels = records[0]["nodes"], records[0]["rels"]
    accounts = [n["id"] for n in nodes[0::2]]
    links = [(rels[2 * i], ident["key"]) for i, ident in enumerate(nodes[1::2])]
    return PathRow(accounts, links)


async def ban_candidates_page(
    reads: Reads, min_risk: float, min_confidence: float, after: Sequence[Any] | None, limit: int
) -> list[BanRecord]:
    after_cluster, after_account = _after(after)
    records = await q.read(
        reads, BAN_CANDIDATES, min_risk=min_risk, min_confidence=min_confidence,
        after_cluster=after_cluster, after_account=after_account, limit=limit,
    )  # fmt: skip
    return [BanRecord.of(r) for r in records]


async def audit_page(
    reads: Reads, target: str | None, include_members: bool, after: Sequence[Any] | None,
    limit: int,
) -> list[AuditRow]:  # fmt: skip
    after_ms, after_id = _after(after)
    records = await q.read(reads, q.AUDIT_LOG, target=target, members=include_members,
                           after_ms=after_ms, after_id=after_id, limit=limit)  # fmt: skip
    return [AuditRow(r["at_ms"], AuditRecord.of(r["props"])) for r in records]


# --- nested fields: a page under one cluster, account or identifier ---------------------------


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: str
    confidence: float
    since_ms: int | None
    why: MemberWhyRecord | None
    # The member itself, read with its membership: a review page asks for every member's
    # account, and one loader call per member made graphql-core await 100 results a page.
    account: AccountRecord


@dataclass(frozen=True, slots=True)
class SharedRow:
    rel: str
    key: str
    degree: int


@dataclass(frozen=True, slots=True)
class LinkedRow:
    id: str
    shared_count: int
    shared: list[SharedRow]


@dataclass(frozen=True, slots=True)
class HolderRow:
    id: str
    count: int | None
    first_seen: Any
    last_seen: Any


@dataclass(frozen=True, slots=True)
class SubgraphRows:
    """The drawn members (id, confidence) and, per identifier two of them share, its
    relationship type, key and the drawn members holding it."""

    accounts: list[tuple[str, float]]
    identifiers: list[tuple[str, str, list[str]]]


async def members_page(
    reads: Reads, cluster_id: str, min_confidence: float, after: Sequence[Any] | None, limit: int
) -> list[MemberRow]:
    after_c, after_id = _after(after)
    rows = await q.read_rows(
        reads, q.CLUSTER_MEMBERS, id=cluster_id, min_confidence=min_confidence,
        after_c=after_c, after_id=after_id, limit=limit,
    )  # fmt: skip
    return [
        MemberRow(
            r["id"],
            r["confidence"],
            r["since"],
            MemberWhyRecord.parse(r["why"]),
            AccountRecord.of(r["props"]),
        )
        for r in rows
    ]


async def subgraph(reads: Reads, cluster_id: str, limit: int, max_identifiers: int) -> SubgraphRows:
    records = await q.read(
        reads, q.SUBGRAPH, id=cluster_id, limit=limit, rels=list(q.LINKING_RELS),
        max_identifiers=max_identifiers,
    )  # fmt: skip
    if not records:
        return SubgraphRows([], [])
    r = records[0]
    return SubgraphRows(
        [(a["id"], a["confidence"]) for a in r["nodes"]],
        [(i["rel"], i["key"], list(i["holders"])) for i in r["identifiers"]],
    )


async def linked_accounts_page(
    reads: Reads, account_id: str, link_cap: int, after: Sequence[Any] | None, limit: int
) -> list[LinkedRow]:
    after_n, after_id = _after(after)
    records = await q.read(
        reads, q.LINKED_ACCOUNTS, id=account_id, rels=list(q.LINKING_RELS), cap=link_cap,
        after_n=after_n, after_id=after_id, limit=limit,
    )  # fmt: skip
    return [
        LinkedRow(
            r["id"], r["n"], [SharedRow(s["rel"], s["key"], s["degree"]) for s in r["shared"]]
        )
        for r in records
    ]


async def identifier_holders_page(
    reads: Reads, label: str, key: str, after: str | None, limit: int
) -> list[HolderRow]:
    records = await q.read(reads, q.IDENTIFIER_ACCOUNTS[label], key=key, after=after, limit=limit)
    return [HolderRow(r["id"], r["count"], r["first_seen"], r["last_seen"]) for r in records]
