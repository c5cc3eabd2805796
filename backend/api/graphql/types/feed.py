"""The change feed ban tooling polls: every cluster change and verdict, in commit order."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from backend.api.graphql.context import Info
from backend.api.graphql.types.cluster import Cluster, load_cluster
from backend.api.graphql.types.common import Verdict, to_datetime


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


def cluster_event(p: dict[str, Any]) -> ClusterEvent:
    return ClusterEvent(
        seq=int(p["seq"]), type=ClusterEventType(p["type"]),
        cluster_id=strawberry.ID(p["cluster_id"]),
        related=[strawberry.ID(r) for r in p.get("related") or []],
        size_before=p.get("size_before"), size_after=p.get("size_after"),
        verdict=Verdict(p["verdict"]) if p.get("verdict") else None,
        actor=p.get("actor"), run_id=p.get("run_id"), at=to_datetime(p.get("at")),
    )  # fmt: skip
