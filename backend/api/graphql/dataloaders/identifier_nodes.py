"""Identifiers by (kind, value), with their enrichment and holder count: a list of an account's
identifiers that asks for each one's details costs one query per kind, not one per row."""

from __future__ import annotations

import asyncio

from strawberry.dataloader import DataLoader

from backend.investigation.records import IdentifierRecord
from backend.investigation.repository import Reads, identifiers_by_key

Key = tuple[str, str]  # (node label, key)


def create(reads: Reads) -> DataLoader[Key, IdentifierRecord | None]:
    async def load(keys: list[Key]) -> list[IdentifierRecord | None]:
        wanted: dict[str, list[str]] = {}
        for label, value in dict.fromkeys(keys):
            wanted.setdefault(label, []).append(value)
        # One query per kind, all in flight at once: the page waits for the slowest, not the sum.
        results = await asyncio.gather(
            *(identifiers_by_key(reads, label, v) for label, v in wanted.items())
        )
        found = {
            (label, value): row
            for (label, values), rows in zip(wanted.items(), results, strict=True)
            for value, row in zip(values, rows, strict=True)
        }
        return [found[k] for k in keys]

    return DataLoader(load_fn=load)
