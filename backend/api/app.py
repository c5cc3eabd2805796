"""FastAPI application: health, metrics, GraphQL; one Neo4j driver and one Redis client each."""

from __future__ import annotations

import gc
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.console import install_console
from backend.api.graphql.router import graphql_router
from backend.api.health import router as health_router
from backend.api.ingest_routes import router as ingest_router
from backend.api.limits import BodySizeLimit
from backend.auth.tokens import Authenticator
from backend.core.config import Settings, get_settings
from backend.core.logging import configure_logging, request_id_var
from backend.graph.driver import create_async_driver
from backend.ingest.journal import JOURNAL

log = logging.getLogger("heracles.api")

GC_GEN0_THRESHOLD = 20_000
REQUESTS = Counter("heracles_http_requests_total", "HTTP requests", ["method", "route", "status"])
# Ingest lag: batches folded by workers that the graph writer has not flushed yet. Read from
# Redis at scrape time; NaN while Redis is unreachable.
JOURNAL_BACKLOG = Gauge(
    "heracles_ingest_journal_backlog", "Ingest batches in the journal, not yet in the graph"
)
LATENCY = Histogram("heracles_http_request_seconds", "HTTP request latency", ["method", "route"])


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so metrics labels stay low-cardinality: a request
    answered before routing (413 from the body limit, say) or matching nothing is "unmatched",
    never its raw path, which anyone could vary to grow `/metrics` without bound."""
    path = getattr(scope.get("route"), "path", None)
    return str(path) if path else "unmatched"


class RequestContext:
    """Request id (taken from `x-request-id` or made up, echoed back), metrics and one log line
    per request. Raw ASGI rather than `@app.middleware`: that wrapper costs a task and a
    stream per request, a measurable share of a 5 ms GraphQL call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = (headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex)[:64]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            log.info(
                "request",
                extra={"method": method, "path": route, "status": status,
                       "duration_ms": round(elapsed * 1000, 2)},
            )  # fmt: skip
            request_id_var.reset(token)


def tune_gc() -> None:
    """Everything imported by start-up lives as long as the process: keep it out of the cyclic
    collector, and collect young objects less often. Full collections over a large heap were
    the API's latency spikes under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Request id, metrics, the request log line and the GraphQL body limit (outermost last).
    Shared with the benchmark's baseline app, which must pay for the same stack."""
    app.add_middleware(BodySizeLimit, prefix="/graphql", limit=settings.GRAPHQL_MAX_BODY_BYTES)
    app.add_middleware(RequestContext)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_gc()
        app.state.driver = create_async_driver(settings)
        app.state.authenticator = Authenticator(
            app.state.driver, settings.NEO4J_DATABASE, settings.API_TOKEN_CACHE_S
        )
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

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        token = settings.METRICS_TOKEN
        if token is not None and not token.get_secret_value():
            token = None  # an empty variable (docker-compose's default) is no token
        if token is None and settings.ENV == "prod":
            return Response(status_code=404)
        if token is not None:
            given = request.headers.get("authorization", "").encode()
            expected = f"Bearer {token.get_secret_value()}".encode()
            if not hmac.compare_digest(given, expected):
                return Response(status_code=401, headers={"www-authenticate": "Bearer"})
        try:
            JOURNAL_BACKLOG.set(await app.state.redis.xlen(JOURNAL))
        except (redis.RedisError, OSError):
            JOURNAL_BACKLOG.set(float("nan"))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(health_router)
    app.include_router(ingest_router)
    install_console(app, settings)
    app.include_router(graphql_router(settings), prefix="/graphql")
    install_middleware(app, settings)
    return app
