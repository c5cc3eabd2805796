"""Each cluster's parents and children in the DERIVED_FROM lineage."""

from __future__ import annotations

from neo4j import AsyncDriver
from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import LINEAGE_BY_CLUSTER


def create(driver: AsyncDriver, database: str) -> DataLoader[str, Row | None]:
    return DataLoader(load_fn=one_per_key(driver, database, LINEAGE_BY_CLUSTER))
