"""Neo4j drivers. Each process creates exactly one at start-up and passes it down explicitly."""

from __future__ import annotations

from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase, Driver, GraphDatabase

from backend.core.config import Settings


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "auth": (settings.NEO4J_USER, settings.NEO4J_PASSWORD.get_secret_value()),
        # Server hints ("type does not exist yet") are noise on a graph that fills over time.
        "notifications_min_severity": "OFF",
    }


def create_driver(settings: Settings) -> Driver:
    """Sync driver for workers and the CLI: batch work, one session per batch."""
    return GraphDatabase.driver(
        settings.NEO4J_URI, connection_timeout=5.0, max_transaction_retry_time=30.0,
        **_options(settings),
    )  # fmt: skip


def create_async_driver(settings: Settings) -> AsyncDriver:
    """Async driver for the API, whose handlers must not block the event loop."""
    return AsyncGraphDatabase.driver(
        settings.NEO4J_URI, connection_timeout=2.0, connection_acquisition_timeout=5.0,
        max_transaction_retry_time=5.0, **_options(settings),
    )  # fmt: skip


PING = "RETURN 1 AS one"


async def ping(driver: AsyncDriver, database: str) -> None:
    """One `RETURN 1` without the driver's retries: readiness must answer now, not in 30 s."""
    async with driver.session(database=database) as session:
        result = await session.run(PING)
        await result.consume()
