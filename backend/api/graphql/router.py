"""Mounts the schema on FastAPI with GraphiQL outside prod only."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter

from backend.api.graphql.schema import schema
from backend.core.config import Settings


def graphql_router(settings: Settings) -> GraphQLRouter[None, None]:
    return GraphQLRouter(
        schema,
        graphql_ide=None if settings.ENV == "prod" else "graphiql",
        allow_queries_via_get=False,
    )
