"""What ban tooling acts on, one account per row, each with its stable cluster id."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from backend.api.graphql.types.common import MemberWhy, Verdict, member_why


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


def ban_candidate(r: dict[str, Any]) -> BanCandidate:
    return BanCandidate(
        account_id=strawberry.ID(r["account_id"]), cluster_id=strawberry.ID(r["cluster_id"]),
        network_id=strawberry.ID(r["network_id"]) if r["network_id"] else None,
        confidence=r["confidence"], cluster_risk=r["risk"] or 0.0,
        cluster_verdict=Verdict(r["cluster_verdict"]) if r["cluster_verdict"] else None,
        account_verdict=Verdict(r["account_verdict"]) if r["account_verdict"] else None,
        reason=BanReason(r["reason"]), why=member_why(r["why"]),
    )  # fmt: skip
