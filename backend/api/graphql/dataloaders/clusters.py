"""Clusters by id, as typed records."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import ClusterRecord
from backend.investigation.repository import Reads, clusters_by_id


def create(reads: Reads) -> DataLoader[str, ClusterRecord | None]:
    async def load(keys: list[str]) -> list[ClusterRecord | None]:
        return await clusters_by_id(reads, keys)

    return DataLoader(load_fn=load)
