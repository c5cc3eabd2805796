"""Each cluster's parents and children in the DERIVED_FROM lineage."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import LINEAGE_BY_CLUSTER, Reads


def create(reads: Reads) -> DataLoader[str, Row | None]:
    return DataLoader(load_fn=one_per_key(reads, LINEAGE_BY_CLUSTER))
