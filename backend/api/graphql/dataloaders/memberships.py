"""Each account's cluster membership (an account is in at most one cluster)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import one_per_key
from backend.investigation.records import MembershipRecord, to_datetime
from backend.investigation.repository import MEMBERSHIPS_BY_ACCOUNT, Reads


def membership_record(row: dict[str, Any] | None) -> MembershipRecord | None:
    if row is None:
        return None
    return MembershipRecord(row["cluster_id"], row["confidence"], to_datetime(row["since"]))


def create(reads: Reads) -> DataLoader[str, MembershipRecord | None]:
    load_rows = one_per_key(reads, MEMBERSHIPS_BY_ACCOUNT)

    async def load(keys: list[str]) -> list[MembershipRecord | None]:
        return [membership_record(row) for row in await load_rows(keys)]

    return DataLoader(load_fn=load)
