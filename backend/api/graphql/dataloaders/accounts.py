"""Accounts by id, with all their properties."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import ACCOUNTS_BY_ID, Reads


def create(reads: Reads) -> DataLoader[str, Row | None]:
    return DataLoader(load_fn=one_per_key(reads, ACCOUNTS_BY_ID))
