"""What ban tooling acts on, one account per row, each with its stable cluster id."""

from __future__ import annotations

from enum import Enum

import strawberry

from backend.api.graphql.types.common import MemberWhy, Verdict, member_why
from backend.investigation.records import BanRecord


@strawberry.enum
class BanReason(Enum):
    CLUSTER_CONFIRMED = "cluster_confirmed"
    NETWORK_CONFIRMED = "network_confirmed"
    RISK_THRESHOLD = "risk_threshold"


@strawberry.type
class BanCandidate:
    account_id: strawberry.ID
    cluster_id: strawberry.ID
    network_id: strawberry.ID | None = strawberry.field(
        description="The network the cluster is part of (`Cluster.networkId`): act per network."
    )
    confidence: float
    cluster_risk: float
    cluster_verdict: Verdict | None
    account_verdict: Verdict | None
    reason: BanReason
    why: MemberWhy | None = strawberry.field(
        description="Why the account is in the cluster (`ClusterMember.why`)."
    )


def ban_candidate(b: BanRecord) -> BanCandidate:
    return BanCandidate(
        account_id=strawberry.ID(b.account_id), cluster_id=strawberry.ID(b.cluster_id),
        network_id=strawberry.ID(b.network_id) if b.network_id else None,
        confidence=b.confidence, cluster_risk=b.cluster_risk,
        cluster_verdict=Verdict(b.cluster_verdict) if b.cluster_verdict else None,
        account_verdict=Verdict(b.account_verdict) if b.account_verdict else None,
        reason=BanReason(b.reason), why=member_why(b.why),
    )  # fmt: skip
