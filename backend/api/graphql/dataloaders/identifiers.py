"""Each account's identifiers of every kind, with how many accounts hold each (degree): at most
MAX_PAGE per account, the most recently used first."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from backend.api.graphql.dataloaders._batch import Row, many_per_key
from backend.api.graphql.pagination import MAX_PAGE
from backend.graph.model import LINKS
from backend.investigation.repository import IDENTIFIERS_BY_ACCOUNT, Reads

# Models have their own field (`behaviour.models`); everything else an account links to.
RELS = [rel for rel in LINKS if rel != "USED_MODEL"]


def create(reads: Reads) -> DataLoader[str, list[Row]]:
    load = many_per_key(
        reads, IDENTIFIERS_BY_ACCOUNT, collected=True, rels=RELS, per_account=MAX_PAGE
    )
    return DataLoader(load_fn=load)
