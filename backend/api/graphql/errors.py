"""Errors clients may see. Anything else is masked to "Unexpected error." (and logged), so no
Cypher, stack trace or driver message ever reaches a client."""

from __future__ import annotations

from graphql import GraphQLError

from backend.investigation.repository import QueryTimedOut


class ClientError(Exception):
    """A message written for the client: bad input, not found, forbidden."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.extensions = {"code": code}


def not_found(what: str) -> ClientError:
    return ClientError(f"{what} not found", code="NOT_FOUND")


def should_mask(error: GraphQLError) -> bool:
    """Validation errors (no original error), ClientErrors and timeouts pass; the rest are
    masked."""
    original = error.original_error
    return original is not None and not isinstance(original, ClientError | QueryTimedOut)
