"""Each cluster's parents and children in the DERIVED_FROM lineage."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import LineageRecord
from backend.investigation.repository import Reads, lineage_by_cluster


def create(reads: Reads) -> DataLoader[str, LineageRecord]:
    async def load(keys: list[str]) -> list[LineageRecord]:
        return await lineage_by_cluster(reads, keys)

    return DataLoader(load_fn=load)
