"""Each account's models, with first and last use and the model's release."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.investigation.records import ModelUseRecord
from backend.investigation.repository import Reads, models_by_account


def create(reads: Reads) -> DataLoader[str, list[ModelUseRecord]]:
    async def load(keys: list[str]) -> list[list[ModelUseRecord]]:
        return await models_by_account(reads, keys)

    return DataLoader(load_fn=load)
