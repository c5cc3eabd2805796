"""The baseline `make bench-api` measures Heracles against: FastAPI + strawberry answering a
constant through the API's own middleware and GC tuning, served the same way with as many
workers (`backend.api.serve`). What Heracles costs beyond it is ours (authentication, the guard,
the resolvers, the driver, Neo4j); what it costs itself is the framework's and the machine's.

Served by the benchmark as `python -m backend.api.serve --app benchmarks.bare_api:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import strawberry
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from backend.api.app import install_middleware, tune_gc
from backend.core.config import get_settings
from backend.core.logging import configure_logging


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> int:
        return 1


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_gc()
        yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    router: GraphQLRouter[None, None] = GraphQLRouter(
        strawberry.Schema(Query), graphql_ide=None, allow_queries_via_get=False
    )
    app.include_router(router, prefix="/graphql")
    install_middleware(app, settings)
    return app
