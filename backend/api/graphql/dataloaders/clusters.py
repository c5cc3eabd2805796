"""Clusters by id, as typed records."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import one_per_key
from backend.investigation.records import ClusterRecord
from backend.investigation.repository import CLUSTERS_BY_ID, Reads


def create(reads: Reads) -> DataLoader[str, ClusterRecord | None]:
    load_rows = one_per_key(reads, CLUSTERS_BY_ID)

    async def load(keys: list[str]) -> list[ClusterRecord | None]:
        return [ClusterRecord.of(row["props"]) if row else None for row in await load_rows(keys)]

    return DataLoader(load_fn=load)
