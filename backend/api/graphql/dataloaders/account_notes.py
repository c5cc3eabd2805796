"""Analyst notes on each account, oldest first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import NoteRecord
from backend.investigation.repository import Reads, notes_by_account


def create(reads: Reads) -> DataLoader[str, list[NoteRecord]]:
    async def load(keys: list[str]) -> list[list[NoteRecord]]:
        return await notes_by_account(reads, keys)

    return DataLoader(load_fn=load)
