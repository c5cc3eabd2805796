"""Analyst notes on each account, oldest first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, many_per_key
from backend.investigation.repository import NOTES_BY_ACCOUNT, Reads


def create(reads: Reads) -> DataLoader[str, list[Row]]:
    return DataLoader(load_fn=many_per_key(reads, NOTES_BY_ACCOUNT))
