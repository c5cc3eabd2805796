"""The shortest chain of shared identifiers between two accounts."""

from __future__ import annotations

from typing import Any

import strawberry

from backend.api.graphql.types.common import KIND_OF_REL, IdentifierKind


@strawberry.type
class PathIdentifier:
    kind: IdentifierKind
    value: str


@strawberry.type(description="`fromAccount` and `toAccount` both hold `via`.")
class PathStep:
    from_account: strawberry.ID
    via: PathIdentifier
    to_account: strawberry.ID


@strawberry.type
class AccountPath:
    hops: int
    account_ids: list[strawberry.ID]
    steps: list[PathStep]


def account_path(nodes: list[dict[str, Any]], rels: list[str]) -> AccountPath:
    """Nodes alternate account, identifier, account, ...; rels are the account->identifier types."""
    accounts = [strawberry.ID(n["id"]) for n in nodes[0::2]]
    steps = []
    for i, ident in enumerate(nodes[1::2]):
        via = PathIdentifier(kind=KIND_OF_REL[rels[2 * i]], value=ident["key"])
        steps.append(PathStep(from_account=accounts[i], via=via, to_account=accounts[i + 1]))
    return AccountPath(hops=len(steps), account_ids=accounts, steps=steps)
