"""An identifier node (card, device, IP, template band, ...) and the accounts that hold it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from backend.api.graphql.context import Info
from backend.api.graphql.pagination import (
    Connection,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from backend.api.graphql.types.common import IdentifierKind
from backend.investigation import service as read_side
from backend.investigation.records import to_datetime

if TYPE_CHECKING:
    from backend.api.graphql.types.account import Account


@strawberry.type(description="An account holding an identifier, and how it used it.")
class IdentifierHolder:
    account_id: strawberry.ID
    count: int | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field
    async def account(
        self, info: Info
    ) -> Annotated[Account, strawberry.lazy("backend.api.graphql.types.account")] | None:
        from backend.api.graphql.types.account import load_account

        return await load_account(info, str(self.account_id))


@strawberry.type(description="Something accounts share, with how many accounts share it.")
class Identifier:
    kind: IdentifierKind
    value: str
    degree: int = strawberry.field(description="How many accounts hold it.")
    attributes: JSON = strawberry.field(
        description="Enrichment stored on the node (e.g. an IP's ASN, kind and proxy provider)."
    )

    @strawberry.field(description="Accounts holding it, by account id.")
    async def accounts(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[IdentifierHolder]:
        limit = page_size(first)
        key = decode_cursor("identifier.accounts", after, 1)
        rows = await read_side.identifier_holders_page(
            info.context.reads, self.kind.value, self.value, key[0] if key else None, limit + 1
        )
        return connection(
            [
                (
                    IdentifierHolder(
                        account_id=strawberry.ID(r.id),
                        count=r.count,
                        first_seen=to_datetime(r.first_seen),
                        last_seen=to_datetime(r.last_seen),
                    ),
                    encode_cursor("identifier.accounts", r.id),
                )
                for r in rows
            ],
            limit,
        )


async def load_identifier(info: Info, kind: IdentifierKind, value: str) -> Identifier | None:
    r = await info.context.loaders.identifier.load((kind.value, value))
    if r is None:
        return None
    return Identifier(kind=kind, value=r.key, degree=r.degree, attributes=JSON(r.attributes))
