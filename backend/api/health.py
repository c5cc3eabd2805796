"""Liveness and readiness; readiness names each dependency that is down."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.graph.driver import ping

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _neo4j_ok(request: Request) -> str | None:
    settings = request.app.state.settings
    try:
        await asyncio.wait_for(
            ping(request.app.state.driver, settings.NEO4J_DATABASE), READY_TIMEOUT_S
        )
    except Exception as exc:  # whatever the failure, Neo4j is not usable now
        return type(exc).__name__
    return None


async def _redis_ok(request: Request) -> str | None:
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), READY_TIMEOUT_S)
    except Exception as exc:  # whatever the failure, Redis is not usable now
        return type(exc).__name__
    return None


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    neo4j_error, redis_error = await asyncio.gather(_neo4j_ok(request), _redis_ok(request))
    checks = {
        "neo4j": "ok" if neo4j_error is None else f"down ({neo4j_error})",
        "redis": "ok" if redis_error is None else f"down ({redis_error})",
    }
    down = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ready" if not down else "unavailable", "down": down, "checks": checks}
    return JSONResponse(body, status_code=200 if not down else 503)
