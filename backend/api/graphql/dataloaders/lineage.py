"""Each cluster's parents and children in the DERIVED_FROM lineage."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import one_per_key
from backend.investigation.records import LineageRecord
from backend.investigation.repository import LINEAGE_BY_CLUSTER, Reads


def create(reads: Reads) -> DataLoader[str, LineageRecord]:
    load_rows = one_per_key(reads, LINEAGE_BY_CLUSTER)

    async def load(keys: list[str]) -> list[LineageRecord]:
        return [LineageRecord.of(row) for row in await load_rows(keys)]

    return DataLoader(load_fn=load)
