"""Per-request DataLoaders, one per file: each batches every key a request asks for into one
`UNWIND $ids` query, so a page of any size costs a fixed number of Neo4j round trips."""

from __future__ import annotations

from functools import cached_property

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
from backend.investigation.records import (
    AccountRecord,
    ClusterRecord,
    HeldIdentifierRecord,
    IdentifierRecord,
    LineageRecord,
    MembershipRecord,
    ModelUseRecord,
    NoteRecord,
)
from backend.investigation.repository import Reads


class Loaders:
    """Created on first use: most requests need two or three of them, and building all nine
    per request was measurable on the account query."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads

    @cached_property
    def account(self) -> DataLoader[str, AccountRecord | None]:
        return accounts.create(self.reads, self.membership)

    @cached_property
    def cluster(self) -> DataLoader[str, ClusterRecord | None]:
        return clusters.create(self.reads)

    @cached_property
    def membership(self) -> DataLoader[str, MembershipRecord | None]:
        return memberships.create(self.reads)

    @cached_property
    def identifiers(self) -> DataLoader[str, list[HeldIdentifierRecord]]:
        return identifiers.create(self.reads)

    @cached_property
    def identifier(self) -> DataLoader[tuple[str, str], IdentifierRecord | None]:
        return identifier_nodes.create(self.reads)

    @cached_property
    def models(self) -> DataLoader[str, list[ModelUseRecord]]:
        return models.create(self.reads)

    @cached_property
    def lineage(self) -> DataLoader[str, LineageRecord]:
        return lineage.create(self.reads)

    @cached_property
    def cluster_notes(self) -> DataLoader[str, list[NoteRecord]]:
        return cluster_notes.create(self.reads)

    @cached_property
    def account_notes(self) -> DataLoader[str, list[NoteRecord]]:
        return account_notes.create(self.reads)
