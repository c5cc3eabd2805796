"""Clusters by id, with all their properties."""

from __future__ import annotations

from neo4j import AsyncDriver
from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import CLUSTERS_BY_ID


def create(driver: AsyncDriver, database: str) -> DataLoader[str, Row | None]:
    return DataLoader(load_fn=one_per_key(driver, database, CLUSTERS_BY_ID))
