"""Mounts the schema on FastAPI: bearer-token authentication; POST only (GET /graphql is the
console's explorer, backend/api/console.py)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.routing import APIWebSocketRoute
from strawberry.fastapi import GraphQLRouter

from backend.api.graphql.context import Context
from backend.api.graphql.schema import build_schema
from backend.core.config import Settings


async def get_context(request: Request) -> Context:
    """No token or an unknown one: HTTP 401 before any GraphQL runs."""
    state = request.app.state
    principal = await state.authenticator.authenticate(request.headers.get("authorization"))
    if principal is None:
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return Context(state.driver, state.settings, principal)


def graphql_router(settings: Settings) -> GraphQLRouter[Context, None]:
    router: GraphQLRouter[Context, None] = GraphQLRouter(
        build_schema(settings),
        context_getter=get_context,
        graphql_ide=None,
        allow_queries_via_get=False,
        multipart_uploads_enabled=False,
        subscription_protocols=(),
    )
    # No subscriptions in the schema: no WebSocket route to hold connections open.
    router.routes = [r for r in router.routes if not isinstance(r, APIWebSocketRoute)]
    return router
