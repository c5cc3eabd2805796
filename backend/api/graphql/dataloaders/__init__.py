"""Per-request DataLoaders, one per file: each batches every key a request asks for into one
`UNWIND $ids` query, so a page of any size costs a fixed number of Neo4j round trips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neo4j import AsyncDriver
from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders import (
    account_notes,
    accounts,
    cluster_notes,
    clusters,
    identifiers,
    lineage,
    memberships,
    models,
)

Row = dict[str, Any]


@dataclass
class Loaders:
    driver: AsyncDriver
    database: str
    account: DataLoader[str, Row | None] = field(init=False)
    cluster: DataLoader[str, Row | None] = field(init=False)
    membership: DataLoader[str, Row | None] = field(init=False)
    identifiers: DataLoader[str, list[Row]] = field(init=False)
    models: DataLoader[str, list[Row]] = field(init=False)
    lineage: DataLoader[str, Row | None] = field(init=False)
    cluster_notes: DataLoader[str, list[Row]] = field(init=False)
    account_notes: DataLoader[str, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        d, db = self.driver, self.database
        self.account = accounts.create(d, db)
        self.cluster = clusters.create(d, db)
        self.membership = memberships.create(d, db)
        self.identifiers = identifiers.create(d, db)
        self.models = models.create(d, db)
        self.lineage = lineage.create(d, db)
        self.cluster_notes = cluster_notes.create(d, db)
        self.account_notes = account_notes.create(d, db)
