"""Each account's cluster membership (an account is in at most one cluster)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import MembershipRecord
from backend.investigation.repository import Reads, memberships_by_account


def create(reads: Reads) -> DataLoader[str, MembershipRecord | None]:
    async def load(keys: list[str]) -> list[MembershipRecord | None]:
        return await memberships_by_account(reads, keys)

    return DataLoader(load_fn=load)
