"""Accounts by id, with all their properties; each one's membership primes the membership
loader, so an account page and its cluster cost one read, not two."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import ACCOUNTS_BY_ID, Reads


def create(reads: Reads, membership: DataLoader[str, Row | None]) -> DataLoader[str, Row | None]:
    load_accounts = one_per_key(reads, ACCOUNTS_BY_ID, collected=True)

    async def load(keys: list[str]) -> list[Row | None]:
        rows = await load_accounts(keys)
        for key, row in zip(keys, rows, strict=True):
            membership.prime(key, row["membership"] if row else None)
        return rows

    return DataLoader(load_fn=load)
