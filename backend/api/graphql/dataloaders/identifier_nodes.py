"""Identifiers by (kind, value), with their enrichment and holder count: a list of an account's
identifiers that asks for each one's details costs one query per kind, not one per row."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, one_per_key
from backend.investigation.repository import IDENTIFIERS_BY_KEY, Reads

Key = tuple[str, str]  # (node label, key)


def create(reads: Reads) -> DataLoader[Key, Row | None]:
    by_label = {label: one_per_key(reads, query) for label, query in IDENTIFIERS_BY_KEY.items()}

    async def load(keys: list[Key]) -> list[Row | None]:
        found: dict[Key, Row | None] = {}
        for label in dict.fromkeys(label for label, _ in keys):
            values = list(dict.fromkeys(v for kind, v in keys if kind == label))
            rows = await by_label[label](values)
            found.update({(label, v): row for v, row in zip(values, rows, strict=True)})
        return [found[k] for k in keys]

    return DataLoader(load_fn=load)
