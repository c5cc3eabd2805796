"""The strawberry schema; `heracles schema graphql` exports it to graphql/schema.graphql."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from backend.api.graphql.errors import should_mask
from backend.api.graphql.execution import PlainFieldsExecutionContext
from backend.api.graphql.guard import Guard, limit_rules
from backend.api.graphql.mutation import Mutation
from backend.api.graphql.query import Query
from backend.core.config import Settings


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what will be masked (bugs, outages); a client's own mistakes (bad input,
        forbidden fields, not found) are answered, not logged as server errors."""
        unexpected = [e for e in errors if should_mask(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = Schema(query=Query, mutation=Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    """The served schema: the same types, plus the role policy and every abuse limit.
    Batched operations stay off (strawberry's default)."""
    limits = limit_rules(settings.GRAPHQL_MAX_DEPTH, settings.GRAPHQL_MAX_ALIASES)
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(Guard, limits, settings.GRAPHQL_MAX_COST),
        partial(MaxTokensLimiter, max_token_count=settings.GRAPHQL_MAX_TOKENS),
        partial(ParserCache, maxsize=512),
        partial(MaskErrors, should_mask_error=should_mask),
    ]
    if settings.ENV == "prod":
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        execution_context_class=PlainFieldsExecutionContext,
    )


def export_sdl() -> str:
    return schema.as_str() + "\n"
