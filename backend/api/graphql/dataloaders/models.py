"""Each account's models, with first and last use and the model's release."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, many_per_key
from backend.investigation.repository import MODELS_BY_ACCOUNT, Reads


def create(reads: Reads) -> DataLoader[str, list[Row]]:
    return DataLoader(load_fn=many_per_key(reads, MODELS_BY_ACCOUNT))
