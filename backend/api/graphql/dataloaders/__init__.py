"""Per-request DataLoaders, one per file: each batches every key a request asks for into one
`UNWIND $ids` query, so a page of any size costs a fixed number of Neo4j round trips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders import (
    account_notes,
    accounts,
    cluster_notes,
    clusters,
    identifier_nodes,
    identifiers,
    lineage,
    memberships,
    models,
)
from backend.investigation.repository import Reads

Row = dict[str, Any]


@dataclass
class Loaders:
    reads: Reads
    account: DataLoader[str, Row | None] = field(init=False)
    cluster: DataLoader[str, Row | None] = field(init=False)
    membership: DataLoader[str, Row | None] = field(init=False)
    identifiers: DataLoader[str, list[Row]] = field(init=False)
    identifier: DataLoader[tuple[str, str], Row | None] = field(init=False)
    models: DataLoader[str, list[Row]] = field(init=False)
    lineage: DataLoader[str, Row | None] = field(init=False)
    cluster_notes: DataLoader[str, list[Row]] = field(init=False)
    account_notes: DataLoader[str, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        r = self.reads
        self.account = accounts.create(r)
        self.cluster = clusters.create(r)
        self.membership = memberships.create(r)
        self.identifiers = identifiers.create(r)
        self.identifier = identifier_nodes.create(r)
        self.models = models.create(r)
        self.lineage = lineage.create(r)
        self.cluster_notes = cluster_notes.create(r)
        self.account_notes = account_notes.create(r)
