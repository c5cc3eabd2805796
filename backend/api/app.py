"""FastAPI application: health, metrics, GraphQL; one Neo4j driver and one Redis client each."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from backend.api.graphql.router import graphql_router
from backend.api.health import router as health_router
from backend.api.ingest_routes import router as ingest_router
from backend.core.config import Settings, get_settings
from backend.core.logging import configure_logging, request_id_var
from backend.graph.driver import create_async_driver

log = logging.getLogger("heracles.api")

REQUESTS = Counter("heracles_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("heracles_http_request_seconds", "HTTP request latency", ["method", "route"])


def _route_template(request: Request, status: int) -> str:
    """The matched route's path template, so metrics labels stay low-cardinality."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    # Mounted sub-apps (GraphQL) leave no route in scope; unknown paths must not become labels.
    return "unmatched" if status == 404 else request.url.path


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.driver = create_async_driver(settings)
        app.state.redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2.0)
        # Ingest enqueues through Celery (sync); its DLQ writes use this client in a thread.
        app.state.sync_redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5.0)
        try:
            yield
        finally:
            await app.state.driver.close()
            await app.state.redis.aclose()
            app.state.sync_redis.close()

    app = FastAPI(
        title="Heracles",
        lifespan=lifespan,
        docs_url=None if settings.ENV == "prod" else "/docs",
        redoc_url=None,
        openapi_url=None if settings.ENV == "prod" else "/openapi.json",
    )
    app.state.settings = settings

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(request_id[:64])
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["x-request-id"] = request_id[:64]
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(request, status)
            REQUESTS.labels(request.method, route, str(status)).inc()
            LATENCY.labels(request.method, route).observe(elapsed)
            log.info(
                "request",
                extra={"method": request.method, "path": route, "status": status,
                       "duration_ms": round(elapsed * 1000, 2)},
            )  # fmt: skip
            request_id_var.reset(token)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(health_router)
    app.include_router(ingest_router)
    app.include_router(graphql_router(settings), prefix="/graphql")
    return app
