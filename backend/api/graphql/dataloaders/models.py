"""Each account's models, with first and last use and the model's release."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import many_per_key
from backend.investigation.records import ModelUseRecord
from backend.investigation.repository import MODELS_BY_ACCOUNT, Reads


def create(reads: Reads) -> DataLoader[str, list[ModelUseRecord]]:
    load_rows = many_per_key(reads, MODELS_BY_ACCOUNT)

    async def load(keys: list[str]) -> list[list[ModelUseRecord]]:
        return [[ModelUseRecord.of(r) for r in rows] for rows in await load_rows(keys)]

    return DataLoader(load_fn=load)
