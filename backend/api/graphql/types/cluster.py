"""A detected network: its risk and why, its evidence, its members, its history."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from backend.api.graphql.context import Info
from backend.api.graphql.errors import ClientError
from backend.api.graphql.pagination import (
    MAX_PAGE,
    Connection,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from backend.api.graphql.types.account import Account, account_type
from backend.api.graphql.types.common import (
    KIND_OF_REL,
    Decision,
    IdentifierKind,
    MemberWhy,
    Note,
    decision,
    member_why,
    notes,
)
from backend.graph.model import ClusterStatus as Status
from backend.investigation import service as read_side
from backend.investigation.records import (
    AccountRecord,
    ClusterRecord,
    LineageLinkRecord,
    to_datetime,
)

MAX_SUBGRAPH_IDENTIFIERS = 2000


@strawberry.enum
class ClusterStatus(Enum):
    ACTIVE = Status.ACTIVE.value
    MERGED = Status.MERGED.value
    DISSOLVED = Status.DISSOLVED.value


@strawberry.type(description="One community feature, as detection computed it.")
class Feature:
    name: str
    value: float


@strawberry.type(description="One feature's share of the risk logit.")
class Contribution:
    feature: str
    value: float | None = strawberry.field(description="The feature's value.")
    contribution: float = strawberry.field(description="Its term in the logit.")


@strawberry.type(
    description="risk = 1 / (1 + exp(-(bias + sum of contributions))): check it by hand."
)
class Explanation:
    bias: float
    logit: float
    contributions: list[Contribution]


@strawberry.type(description="An identifier the cluster's members share most.")
class Evidence:
    kind: IdentifierKind
    value: str
    members: int = strawberry.field(description="Members of this cluster holding it.")
    degree: int = strawberry.field(description="All accounts holding it.")


@strawberry.type
class LineageLink:
    cluster_id: strawberry.ID
    kind: str = strawberry.field(description="merged or split.")
    at: datetime | None

    @strawberry.field
    async def cluster(self, info: Info) -> Cluster | None:
        return await load_cluster(info, str(self.cluster_id))


@strawberry.type(description="Where this cluster came from and what came out of it.")
class Lineage:
    parents: list[LineageLink]
    children: list[LineageLink]


@strawberry.type(description="A member of a cluster.")
class ClusterMember:
    account_id: strawberry.ID
    confidence: float
    since: datetime | None
    why: MemberWhy | None = strawberry.field(
        description="Its strongest ties into the cluster and its behaviour similarity (none "
        "for memberships written before this was recorded)."
    )
    record: strawberry.Private[AccountRecord]

    @strawberry.field
    def account(self) -> Account | None:
        # Read with the membership (`members_page`): resolved without awaiting, so a page's
        # member subtrees execute synchronously (docs/benchmarks.md, "API").
        return account_type(self.record)


@strawberry.type
class SubgraphAccount:
    id: strawberry.ID
    confidence: float


@strawberry.type
class SubgraphIdentifier:
    id: strawberry.ID = strawberry.field(description="`<kind>:<value>`, unique in the subgraph.")
    kind: IdentifierKind
    value: str


@strawberry.type(description="An account holds an identifier.")
class SubgraphEdge:
    account_id: strawberry.ID
    identifier_id: strawberry.ID


@strawberry.type(description="Members and the identifiers at least two of them share.")
class Subgraph:
    accounts: list[SubgraphAccount]
    identifiers: list[SubgraphIdentifier]
    edges: list[SubgraphEdge]


@strawberry.type(description="A coordinated network found by detection; its id is stable.")
class Cluster:
    id: strawberry.ID
    record: strawberry.Private[ClusterRecord]

    @strawberry.field
    def status(self) -> ClusterStatus:
        return ClusterStatus(self.record.status)

    @strawberry.field(description="0..1; see `explanation`.")
    def risk(self) -> float:
        return self.record.risk

    @strawberry.field
    def size(self) -> int:
        return self.record.size

    @strawberry.field
    def created_at(self) -> datetime | None:
        return self.record.created_at

    @strawberry.field
    def refreshed_at(self) -> datetime | None:
        return self.record.refreshed_at

    @strawberry.field(description="The detection run that last wrote it.")
    def run_id(self) -> str | None:
        return self.record.run_id

    @strawberry.field(description="Set when the cluster was merged into another.")
    def merged_into(self) -> strawberry.ID | None:
        value = self.record.merged_into
        return strawberry.ID(value) if value else None

    @strawberry.field(
        description="The network this flagged cluster is part of: the clusters one operation's "
        "accounts came back as share it, and it stays while they reshuffle (null when the "
        "cluster is not flagged)."
    )
    def network_id(self) -> strawberry.ID | None:
        value = self.record.network
        return strawberry.ID(value) if value else None

    @strawberry.field
    def features(self) -> list[Feature]:
        return [Feature(name=k, value=v) for k, v in self.record.features.items()]

    @strawberry.field
    def explanation(self) -> Explanation:
        r = self.record
        return Explanation(
            bias=r.bias, logit=round(r.bias + sum(r.contributions.values()), 4),
            contributions=[
                Contribution(feature=k, value=r.features.get(k), contribution=v)
                for k, v in r.contributions.items()
            ],
        )  # fmt: skip

    @strawberry.field(description="The identifiers its members share most, strongest first.")
    def evidence(self) -> list[Evidence]:
        return [
            Evidence(kind=KIND_OF_REL[e.rel], value=e.key, members=e.members, degree=e.degree)
            for e in self.record.evidence
            if e.rel in KIND_OF_REL
        ]

    @strawberry.field
    def verdict(self) -> Decision | None:
        return decision(self.record.verdict)

    @strawberry.field
    async def notes(self, info: Info) -> list[Note]:
        return notes(await info.context.loaders.cluster_notes.load(str(self.id)))

    @strawberry.field
    async def lineage(self, info: Info) -> Lineage:
        record = await info.context.loaders.lineage.load(str(self.id))

        def links(items: list[LineageLinkRecord]) -> list[LineageLink]:
            return [LineageLink(cluster_id=strawberry.ID(x.cluster_id), kind=x.kind, at=x.at)
                    for x in items]  # fmt: skip

        return Lineage(parents=links(record.parents), children=links(record.children))

    @strawberry.field(description="Members, most confident first.")
    async def members(
        self, info: Info, first: int = 100, after: str | None = None, min_confidence: float = 0.0
    ) -> Connection[ClusterMember]:
        limit = page_size(first)
        rows = await read_side.members_page(
            info.context.reads, str(self.id), min_confidence,
            decode_cursor("cluster.members", after, 2), limit + 1,
        )  # fmt: skip
        return connection(
            [
                (
                    ClusterMember(
                        account_id=strawberry.ID(r.id),
                        confidence=r.confidence,
                        since=to_datetime(r.since_ms),
                        why=member_why(r.why),
                        record=r.account,
                    ),
                    encode_cursor("cluster.members", r.confidence, r.id),
                )
                for r in rows
            ],
            limit,
        )

    @strawberry.field(
        description="The `limit` most confident members and the identifiers at least two of "
        "them share, for drawing the network."
    )
    async def subgraph(self, info: Info, limit: int = 100) -> Subgraph:
        if not 1 <= limit <= MAX_PAGE:
            raise ClientError(f"`limit` must be between 1 and {MAX_PAGE}")
        rows = await read_side.subgraph(
            info.context.reads, str(self.id), limit, MAX_SUBGRAPH_IDENTIFIERS
        )
        identifiers: list[SubgraphIdentifier] = []
        edges: list[SubgraphEdge] = []
        for rel, key, holders in rows.identifiers:
            kind = KIND_OF_REL[rel]
            node_id = strawberry.ID(f"{kind.value}:{key}")
            identifiers.append(SubgraphIdentifier(id=node_id, kind=kind, value=key))
            edges.extend(
                SubgraphEdge(account_id=strawberry.ID(a), identifier_id=node_id) for a in holders
            )
        return Subgraph(
            accounts=[SubgraphAccount(id=strawberry.ID(a), confidence=c) for a, c in rows.accounts],
            identifiers=identifiers, edges=edges,
        )  # fmt: skip


async def load_cluster(info: Info, cluster_id: str) -> Cluster | None:
    record = await info.context.loaders.cluster.load(cluster_id)
    return cluster_type(record) if record else None


def cluster_type(record: ClusterRecord) -> Cluster:
    return Cluster(id=strawberry.ID(record.id), record=record)
