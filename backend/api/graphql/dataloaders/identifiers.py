"""Each account's identifiers of every kind, with how many accounts hold each (degree): at most
MAX_PAGE per account, the most recently used first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.pagination import MAX_PAGE
from backend.graph.model import LINKS
from backend.investigation.records import HeldIdentifierRecord
from backend.investigation.repository import Reads, identifiers_by_account

# Models have their own field (`behaviour.models`); everything else an account links to.
RELS = [rel for rel in LINKS if rel != "USED_MODEL"]


def create(reads: Reads) -> DataLoader[str, list[HeldIdentifierRecord]]:
    async def load(keys: list[str]) -> list[list[HeldIdentifierRecord]]:
        return await identifiers_by_account(reads, keys, RELS, MAX_PAGE)

    return DataLoader(load_fn=load)
