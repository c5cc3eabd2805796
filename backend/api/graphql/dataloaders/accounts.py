"""Accounts by id, as typed records; each one's membership primes the membership loader, so an
account page and its cluster cost one read, not two."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import one_per_key
from backend.api.graphql.dataloaders.memberships import membership_record
from backend.investigation.records import AccountRecord, MembershipRecord
from backend.investigation.repository import ACCOUNTS_BY_ID, Reads


def create(
    reads: Reads, membership: DataLoader[str, MembershipRecord | None]
) -> DataLoader[str, AccountRecord | None]:
    load_accounts = one_per_key(reads, ACCOUNTS_BY_ID, collected=True)

    async def load(keys: list[str]) -> list[AccountRecord | None]:
        rows = await load_accounts(keys)
        out: list[AccountRecord | None] = []
        for key, row in zip(keys, rows, strict=True):
            membership.prime(key, membership_record(row["membership"]) if row else None)
            out.append(AccountRecord.of(row["props"]) if row else None)
        return out

    return DataLoader(load_fn=load)
