"""The Query root: where analysts and ban tooling start."""

from __future__ import annotations

from enum import Enum
from importlib.metadata import version

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
from backend.api.graphql.types.account import Account, account_type, load_account
from backend.api.graphql.types.audit import AuditEntry, audit_entry
from backend.api.graphql.types.bans import BanCandidate, ban_candidate
from backend.api.graphql.types.cluster import Cluster, ClusterStatus, cluster_type, load_cluster
from backend.api.graphql.types.common import IdentifierKind
from backend.api.graphql.types.feed import ClusterEvent, cluster_event
from backend.api.graphql.types.identifier import Identifier, load_identifier
from backend.api.graphql.types.path import AccountPath, account_path
from backend.graph.model import Verdict as VerdictValue
from backend.investigation import repository as q
from backend.investigation import service as read_side


@strawberry.enum
class ClusterOrder(Enum):
    RISK = "RISK"
    SIZE = "SIZE"
    REFRESHED = "REFRESHED"
    CREATED = "CREATED"


@strawberry.enum(description="A verdict filter; NONE matches clusters nobody has reviewed.")
class VerdictFilter(Enum):
    CONFIRMED_FRAUD = VerdictValue.CONFIRMED_FRAUD.value
    FALSE_POSITIVE = VerdictValue.FALSE_POSITIVE.value
    NEEDS_REVIEW = VerdictValue.NEEDS_REVIEW.value
    NONE = "NONE"


@strawberry.input
class ClusterFilter:
    min_risk: float = 0.0
    min_size: int = 0
    status: ClusterStatus | None = ClusterStatus.ACTIVE
    verdict: VerdictFilter | None = None


def _cluster_query(f: ClusterFilter | None) -> read_side.ClusterQuery:
    f = f or ClusterFilter()
    return read_side.ClusterQuery(
        status=f.status.value if f.status else None,
        min_risk=f.min_risk,
        min_size=f.min_size,
        verdict=f.verdict.value if f.verdict else None,
    )


@strawberry.type(description="Who is calling: what a client shows depends on it.")
class Viewer:
    name: str = strawberry.field(description="The token's name (the audit trail's actor).")
    role: str = strawberry.field(description="analyst, bantool or admin.")


@strawberry.type(description="Heracles API root.")
class Query:
    @strawberry.field(description="Version of the running Heracles server.")
    def api_version(self) -> str:
        return version("heracles")

    @strawberry.field(description="The calling token's name and role.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.caller()
        return Viewer(name=principal.name, role=principal.role.value)

    @strawberry.field
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        return await load_account(info, str(id))

    @strawberry.field(
        description=f"Up to {MAX_PAGE} accounts, in the order asked; null if unknown."
    )
    async def accounts(self, info: Info, ids: list[strawberry.ID]) -> list[Account | None]:
        if len(ids) > MAX_PAGE:
            raise ClientError(f"at most {MAX_PAGE} ids per call")
        records = await info.context.loaders.account.load_many([str(i) for i in ids])
        return [account_type(r) if r else None for r in records]

    @strawberry.field
    async def identifier(self, info: Info, kind: IdentifierKind, value: str) -> Identifier | None:
        return await load_identifier(info, kind, value)

    @strawberry.field
    async def cluster(self, info: Info, id: strawberry.ID) -> Cluster | None:
        return await load_cluster(info, str(id))

    @strawberry.field(
        description="Clusters, riskiest first by default; active ones unless "
        "the filter's status says otherwise (null: any status)."
    )
    async def clusters(
        self, info: Info, filter: ClusterFilter | None = None,
        order_by: ClusterOrder = ClusterOrder.RISK, first: int = 50, after: str | None = None,
    ) -> Connection[Cluster]:  # fmt: skip
        limit = page_size(first)
        tag = f"clusters.{order_by.value}"
        rows = await read_side.clusters_page(
            info.context.reads, order_by.value, _cluster_query(filter),
            decode_cursor(tag, after, 2), limit + 1,
        )  # fmt: skip
        return connection(
            [
                (cluster_type(r.record), encode_cursor(tag, r.sort_key, r.id))
                for r in rows
            ],
            limit,
        )  # fmt: skip

    @strawberry.field(description="How many clusters `clusters` would list with this filter.")
    async def cluster_count(self, info: Info, filter: ClusterFilter | None = None) -> int:
        return await read_side.count_clusters(info.context.reads, _cluster_query(filter))

    @strawberry.field(
        description="The change feed's latest seq (0 when empty): a new poller may start "
        "there, an old one sees how far behind it is."
    )
    async def feed_head(self, info: Info) -> int:
        return await read_side.feed_head(info.context.reads)

    @strawberry.field(
        description=f"Shortest chain of shared identifiers, at most "
        f"{q.MAX_PATH_HOPS} account-to-account hops, through identifiers that link in "
        "detection (held by at most DETECTION_LINK_CAP accounts; no webmail or disposable "
        "domain); null if none."
    )
    async def path(
        self, info: Info, from_account: strawberry.ID, to_account: strawberry.ID,
        max_hops: int = 4,
    ) -> AccountPath | None:  # fmt: skip
        if max_hops not in q.PATH:
            raise ClientError(f"`maxHops` must be between 1 and {q.MAX_PATH_HOPS}")
        if from_account == to_account:
            raise ClientError("`fromAccount` and `toAccount` must differ")
        row = await read_side.shortest_path(
            info.context.reads, str(from_account), str(to_account), max_hops,
            info.context.settings.DETECTION_LINK_CAP,
        )  # fmt: skip
        return account_path(row.account_ids, row.links) if row else None

    @strawberry.field(
        description="The change feed: events after `after` (a seq), oldest first. "
        "Resume from the last seq processed."
    )
    async def cluster_events(
        self, info: Info, after: int = 0, first: int = 100
    ) -> list[ClusterEvent]:
        limit = page_size(first)
        events = await read_side.feed_events(info.context.reads, after, limit)
        return [cluster_event(e) for e in events]

    @strawberry.field(
        description="Accounts to act on: confident members of clusters confirmed "
        "as fraud or at/above `minRisk`, minus accounts marked FALSE_POSITIVE. In a cluster "
        "confirmed as fraud (or of a confirmed network) a member needs only "
        "`minConfidenceConfirmed` (never more than `minConfidence`). Defaults are the "
        "server's flag threshold and minimum confidences."
    )
    async def ban_candidates(
        self, info: Info, min_risk: float | None = None, min_confidence: float | None = None,
        first: int = 500, after: str | None = None,
        min_confidence_confirmed: float | None = None,
    ) -> Connection[BanCandidate]:  # fmt: skip
        limit = page_size(first)
        s = info.context.settings
        rows = await read_side.ban_candidates_page(
            info.context.reads,
            s.DETECTION_FLAG_THRESHOLD if min_risk is None else min_risk,
            s.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence,
            s.DETECTION_CONFIRMED_MIN_CONFIDENCE
            if min_confidence_confirmed is None else min_confidence_confirmed,
            decode_cursor("banCandidates", after, 2), limit + 1,
        )  # fmt: skip
        return connection(
            [
                (ban_candidate(r), encode_cursor("banCandidates", r.cluster_id, r.account_id))
                for r in rows
            ],
            limit,
        )

    @strawberry.field(
        description="Who changed what, newest first; optionally for one target, and with "
        "`includeMembers` and a cluster's id, also for the accounts that are its members now."
    )
    async def audit_log(
        self, info: Info, target_id: str | None = None, include_members: bool = False,
        first: int = 50, after: str | None = None,
    ) -> Connection[AuditEntry]:  # fmt: skip
        limit = page_size(first)
        rows = await read_side.audit_page(
            info.context.reads, target_id, include_members, decode_cursor("auditLog", after, 2),
            limit + 1,
        )  # fmt: skip
        return connection(
            [
                (audit_entry(r.record), encode_cursor("auditLog", r.at_ms, r.record.id))
                for r in rows
            ],
            limit,
        )
