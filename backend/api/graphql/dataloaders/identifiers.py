"""Each account's identifiers of every kind, with how many accounts hold each (degree): at most
MAX_PAGE per account, the most recently used first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import many_per_key
from backend.api.graphql.pagination import MAX_PAGE
from backend.graph.model import LINKS
from backend.investigation.records import HeldIdentifierRecord
from backend.investigation.repository import IDENTIFIERS_BY_ACCOUNT, Reads

# Models have their own field (`behaviour.models`); everything else an account links to.
RELS = [rel for rel in LINKS if rel != "USED_MODEL"]


def create(reads: Reads) -> DataLoader[str, list[HeldIdentifierRecord]]:
    load_rows = many_per_key(
        reads, IDENTIFIERS_BY_ACCOUNT, collected=True, rels=RELS, per_account=MAX_PAGE
    )

    async def load(keys: list[str]) -> list[list[HeldIdentifierRecord]]:
        return [[HeldIdentifierRecord.of(r) for r in rows] for rows in await load_rows(keys)]

    return DataLoader(load_fn=load)
