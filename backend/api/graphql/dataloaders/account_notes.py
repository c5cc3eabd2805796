"""Analyst notes on each account, oldest first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import many_per_key
from backend.investigation.records import NoteRecord
from backend.investigation.repository import NOTES_BY_ACCOUNT, Reads


def create(reads: Reads) -> DataLoader[str, list[NoteRecord]]:
    load_rows = many_per_key(reads, NOTES_BY_ACCOUNT)

    async def load(keys: list[str]) -> list[list[NoteRecord]]:
        return [[NoteRecord.of(r) for r in rows] for rows in await load_rows(keys)]

    return DataLoader(load_fn=load)
