"""Each account's cluster membership (an account is in at most one cluster)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import MEMBERSHIPS_BY_ACCOUNT, Reads


def create(reads: Reads) -> DataLoader[str, Row | None]:
    return DataLoader(load_fn=one_per_key(reads, MEMBERSHIPS_BY_ACCOUNT))
