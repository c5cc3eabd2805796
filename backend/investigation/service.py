"""The read side behind the API: a root field's page, a cluster's members or subgraph, an
account's links, an identifier's holders, as typed records (`investigation.records`). It turns
the API's cursors and filters into the repository's parameters and runs one repository read;
the GraphQL resolvers only map records to types and hold no Cypher. Lookups by id, batched per
request, go through `backend/api/graphql/dataloaders/` to the repository's `*_by_*` reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.investigation import repository as q
from backend.investigation.records import (
    AuditRow,
    BanRecord,
    ClusterRow,
    LinkedRow,
    MemberRow,
)
from backend.investigation.repository import (  # nothing to turn into parameters: as they are
    Reads,
    feed_events,
    feed_head,
    identifier_holders_page,
    shortest_path,
    subgraph,
)

__all__ = [
    "ClusterQuery", "Reads", "audit_page", "ban_candidates_page", "clusters_page",
    "count_clusters", "feed_events", "feed_head", "identifier_holders_page",
    "linked_accounts_page", "members_page", "shortest_path", "subgraph",
]  # fmt: skip


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


def _after(key: Sequence[Any] | None) -> tuple[Any, Any]:
    """A decoded cursor's (sort value, id), or (None, None) for the first page."""
    return (key[0], key[1]) if key else (None, None)


async def clusters_page(
    reads: Reads, order: str, query: ClusterQuery, after: Sequence[Any] | None, limit: int
) -> list[ClusterRow]:
    return await q.clusters_page(reads, order, query.params(), *_after(after), limit)


async def count_clusters(reads: Reads, query: ClusterQuery) -> int:
    return await q.count_clusters(reads, query.params())


async def ban_candidates_page(
    reads: Reads, min_risk: float, min_confidence: float, min_confidence_confirmed: float,
    after: Sequence[Any] | None, limit: int,
) -> list[BanRecord]:  # fmt: skip
    return await q.ban_candidates_page(
        reads, min_risk, min_confidence, min_confidence_confirmed, *_after(after), limit
    )


async def audit_page(
    reads: Reads, target: str | None, include_members: bool, after: Sequence[Any] | None,
    limit: int,
) -> list[AuditRow]:  # fmt: skip
    return await q.audit_page(reads, target, include_members, *_after(after), limit)


async def members_page(
    reads: Reads, cluster_id: str, min_confidence: float, after: Sequence[Any] | None, limit: int
) -> list[MemberRow]:
    return await q.members_page(reads, cluster_id, min_confidence, *_after(after), limit)


async def linked_accounts_page(
    reads: Reads, account_id: str, link_cap: int, after: Sequence[Any] | None, limit: int
) -> list[LinkedRow]:
    return await q.linked_accounts_page(reads, account_id, link_cap, *_after(after), limit)
