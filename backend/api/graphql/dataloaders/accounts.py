"""Accounts by id, as typed records; each one's membership primes the membership loader, so an
account page and its cluster cost one read, not two."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import AccountRecord, MembershipRecord
from backend.investigation.repository import Reads, accounts_by_id


def create(
    reads: Reads, membership: DataLoader[str, MembershipRecord | None]
) -> DataLoader[str, AccountRecord | None]:
    async def load(keys: list[str]) -> list[AccountRecord | None]:
        out: list[AccountRecord | None] = []
        for key, found in zip(keys, await accounts_by_id(reads, keys), strict=True):
            membership.prime(key, found[1] if found else None)
            out.append(found[0] if found else None)
        return out

    return DataLoader(load_fn=load)
