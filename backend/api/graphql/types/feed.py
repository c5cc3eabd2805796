"""The change feed ban tooling polls: every cluster change and verdict, in commit order."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from backend.api.graphql.context import Info
from backend.api.graphql.types.cluster import Cluster, load_cluster
from backend.api.graphql.types.common import Verdict
from backend.investigation.records import FeedEventRecord


@strawberry.enum
class ClusterEventType(Enum):
    CREATED = "created"
    GROWN = "grown"
    SHRUNK = "shrunk"
    MERGED = "merged"
    SPLIT = "split"
    DISSOLVED = "dissolved"
    REGROWN = "regrown"
    VERDICT_SET = "verdict_set"


@strawberry.type(
    description="One change to one cluster. `seq` is gap-free and follows commit order, so "
    "a poller that resumes after the last seq it processed misses and repeats nothing."
)
class ClusterEvent:
    seq: int
    type: ClusterEventType
    cluster_id: strawberry.ID
    related: list[strawberry.ID] = strawberry.field(
        description="Merged: the clusters absorbed. Split: the clusters it split from. "
        "Regrown: the confirmed clusters of the network it appeared in."
    )
    size_before: int | None
    size_after: int | None
    verdict: Verdict | None
    actor: str | None = strawberry.field(description="`detection` or the token's name.")
    run_id: str | None
    at: datetime | None

    @strawberry.field
    async def cluster(self, info: Info) -> Cluster | None:
        return await load_cluster(info, str(self.cluster_id))


def cluster_event(e: FeedEventRecord) -> ClusterEvent:
    return ClusterEvent(
        seq=e.seq, type=ClusterEventType(e.type), cluster_id=strawberry.ID(e.cluster_id),
        related=[strawberry.ID(r) for r in e.related], size_before=e.size_before,
        size_after=e.size_after, verdict=Verdict(e.verdict) if e.verdict else None,
        actor=e.actor, run_id=e.run_id, at=e.at,
    )  # fmt: skip
