"""An account: what it did (folded behaviour), what it holds, whom it shares with, its cluster."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.api.graphql.context import Info
from backend.api.graphql.pagination import (
    Connection,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from backend.api.graphql.types.common import (
    KIND_OF_REL,
    Decision,
    IdentifierKind,
    Note,
    decision,
    notes,
)
from backend.api.graphql.types.identifier import Identifier, load_identifier
from backend.investigation import service as read_side
from backend.investigation.records import AccountRecord

if TYPE_CHECKING:
    from backend.api.graphql.types.cluster import Cluster


@strawberry.type(description="Usage of one model: so a rush to a new release shows.")
class ModelUse:
    model: str
    exchanges: int
    first_used: datetime | None
    last_used: datetime | None
    released_at: datetime | None
    hours_after_release: float | None = strawberry.field(
        description="Hours from the model's release to this account's first use of it."
    )


@strawberry.type
class CapabilityCount:
    capability: str
    exchanges: int


@strawberry.type(description="Usage events folded per account (never stored one by one).")
class Behaviour:
    account_id: strawberry.Private[str]
    sessions: int
    exchanges: int
    tokens_in: int
    tokens_out: int
    cot_elicitations: int
    tool_calls: int
    capabilities: list[CapabilityCount]
    hour_histogram: list[int] = strawberry.field(description="Exchanges per UTC hour of day.")
    distinct_ips: int
    distinct_client_fingerprints: int

    @strawberry.field(description="Models used, by first use.")
    async def models(self, info: Info) -> list[ModelUse]:
        out = []
        for r in await info.context.loaders.models.load(self.account_id):
            first, released = r.first_used, r.released_at
            lag = (first - released).total_seconds() / 3600 if first and released else None
            out.append(
                ModelUse(
                    model=r.model,
                    exchanges=r.exchanges,
                    first_used=first,
                    last_used=r.last_used,
                    released_at=released,
                    hours_after_release=round(lag, 2) if lag is not None else None,
                )
            )
        return out


@strawberry.type
class Billing:
    charges: int
    charges_failed: int
    charges_refunded: int
    charges_disputed: int
    amount_minor: int = strawberry.field(description="Sum of charges in minor currency units.")
    distinct_payment_methods: int


@strawberry.type(description="One identifier an account holds and how many accounts share it.")
class IdentifierLink:
    kind: IdentifierKind
    value: str
    degree: int = strawberry.field(description="How many accounts hold it.")
    count: int | None = strawberry.field(description="How often this account used it.")
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field(description="The identifier itself, with its enrichment and holders.")
    async def identifier(self, info: Info) -> Identifier | None:
        return await load_identifier(info, self.kind, self.value)


@strawberry.type(description="An account's place in a cluster.")
class Membership:
    cluster_id: strawberry.ID
    confidence: float = strawberry.field(
        description="How strongly the account is tied to the rest and how alike it behaves "
        "(0..1); ban tooling leaves out low-confidence members."
    )
    since: datetime | None

    @strawberry.field
    async def cluster(
        self, info: Info
    ) -> Annotated[Cluster, strawberry.lazy("backend.api.graphql.types.cluster")] | None:
        from backend.api.graphql.types.cluster import load_cluster

        return await load_cluster(info, str(self.cluster_id))


@strawberry.type(description="An identifier two accounts share.")
class SharedIdentifier:
    kind: IdentifierKind
    value: str
    degree: int


@strawberry.type(description="An account linked to another by the identifiers they share.")
class LinkedAccount:
    account_id: strawberry.ID
    shared_count: int
    shared: list[SharedIdentifier]

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        return await load_account(info, str(self.account_id))


@strawberry.type(description="A customer account, as every event about it left it.")
class Account:
    id: strawberry.ID
    record: strawberry.Private[AccountRecord]

    @strawberry.field
    def signup_at(self) -> datetime | None:
        return self.record.signup_at

    @strawberry.field
    def first_seen(self) -> datetime | None:
        return self.record.first_seen

    @strawberry.field
    def last_seen(self) -> datetime | None:
        return self.record.last_seen

    @strawberry.field(description="Canonical mailbox (see docs/graph-model.md).")
    def email(self) -> str | None:
        return self.record.email

    @strawberry.field
    def email_domain(self) -> str | None:
        return self.record.email_domain

    @strawberry.field
    def phone(self) -> str | None:
        return self.record.phone

    @strawberry.field
    def country(self) -> str | None:
        return self.record.country

    @strawberry.field
    def org_name(self) -> str | None:
        return self.record.org_name

    @strawberry.field
    def signup_channel(self) -> str | None:
        return self.record.signup_channel

    @strawberry.field
    def signup_ip(self) -> str | None:
        return self.record.signup_ip

    @strawberry.field
    def signup_ip_kind(self) -> str | None:
        return self.record.signup_ip_kind

    @strawberry.field
    def user_agent(self) -> str | None:
        return self.record.user_agent

    @strawberry.field(description="Events seen for this account, all types.")
    def events(self) -> int:
        return self.record.events

    @strawberry.field
    def behaviour(self) -> Behaviour:
        b = self.record.behaviour
        return Behaviour(
            account_id=str(self.id), sessions=b.sessions, exchanges=b.exchanges,
            tokens_in=b.tokens_in, tokens_out=b.tokens_out, cot_elicitations=b.cot_elicitations,
            tool_calls=b.tool_calls,
            capabilities=[CapabilityCount(capability=c, exchanges=n)
                          for c, n in b.capabilities.items()],
            hour_histogram=b.hour_histogram, distinct_ips=b.distinct_ips,
            distinct_client_fingerprints=b.distinct_client_fingerprints,
        )  # fmt: skip

    @strawberry.field
    def billing(self) -> Billing:
        b = self.record.billing
        return Billing(
            charges=b.charges, charges_failed=b.charges_failed,
            charges_refunded=b.charges_refunded, charges_disputed=b.charges_disputed,
            amount_minor=b.amount_minor, distinct_payment_methods=b.distinct_payment_methods,
        )  # fmt: skip

    @strawberry.field(description="An account-level verdict (an exception inside a cluster).")
    def verdict(self) -> Decision | None:
        return decision(self.record.verdict)

    @strawberry.field(
        description="Its identifiers, optionally of some kinds only: at most 500, the most "
        "recently used first."
    )
    async def identifiers(
        self, info: Info, kinds: list[IdentifierKind] | None = None
    ) -> list[IdentifierLink]:
        wanted = set(kinds) if kinds else None
        out = []
        for r in await info.context.loaders.identifiers.load(str(self.id)):
            kind = KIND_OF_REL[r.rel]
            if wanted is None or kind in wanted:
                out.append(
                    IdentifierLink(
                        kind=kind,
                        value=r.key,
                        degree=r.degree,
                        count=r.count,
                        first_seen=r.first_seen,
                        last_seen=r.last_seen,
                    )
                )
        return out

    @strawberry.field(description="Its cluster, if detection put it in one.")
    async def cluster(self, info: Info) -> Membership | None:
        m = await info.context.loaders.membership.load(str(self.id))
        if m is None:
            return None
        return Membership(cluster_id=strawberry.ID(m.cluster_id), confidence=m.confidence,
                          since=m.since)  # fmt: skip

    @strawberry.field(
        description="Accounts sharing a linking identifier with this one, most shared first. "
        "Identifiers held by more than the link cap (carrier NAT, popular templates) and "
        "webmail domains are not expanded, as in detection."
    )
    async def linked_accounts(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[LinkedAccount]:
        limit = page_size(first)
        rows = await read_side.linked_accounts_page(
            info.context.reads, str(self.id), info.context.settings.DETECTION_LINK_CAP,
            decode_cursor("account.linked", after, 2), limit + 1,
        )  # fmt: skip
        items = []
        for r in rows:
            shared = [
                SharedIdentifier(kind=KIND_OF_REL[s.rel], value=s.key, degree=s.degree)
                for s in r.shared
            ]
            node = LinkedAccount(
                account_id=strawberry.ID(r.id), shared_count=r.shared_count, shared=shared
            )
            items.append((node, encode_cursor("account.linked", r.shared_count, r.id)))
        return connection(items, limit)

    @strawberry.field
    async def notes(self, info: Info) -> list[Note]:
        return notes(await info.context.loaders.account_notes.load(str(self.id)))


async def load_account(info: Info, account_id: str) -> Account | None:
    record = await info.context.loaders.account.load(account_id)
    return account_type(record) if record else None


def account_type(record: AccountRecord) -> Account:
    return Account(id=strawberry.ID(record.id), record=record)
