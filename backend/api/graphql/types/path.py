"""The shortest chain of shared identifiers between two accounts."""

from __future__ import annotations

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


def account_path(account_ids: list[str], links: list[tuple[str, str]]) -> AccountPath:
    """`links[i]` (relationship type, identifier key) ties account i to account i + 1."""
    accounts = [strawberry.ID(a) for a in account_ids]
    steps = [
        PathStep(
            from_account=accounts[i],
            to_account=accounts[i + 1],
            via=PathIdentifier(kind=KIND_OF_REL[rel], value=key),
        )
        for i, (rel, key) in enumerate(links)
    ]
    return AccountPath(hops=len(steps), account_ids=accounts, steps=steps)
