"""System tasks: liveness of the worker path end to end."""

from __future__ import annotations

import time

from backend.core.config import get_settings
from backend.system import repository
from workers.app import app
from workers.resources import graph_driver, redis_client

HEARTBEAT_KEY = "heracles:worker:heartbeat"


@app.task(name="heracles.ping")
def ping() -> str:
    return "pong"


@app.task(name="heracles.system.smoke_roundtrip")
def smoke_roundtrip(node_id: str) -> str | None:
    """Write a node, read it back in a second transaction, remove it; returns what was read."""
    database = get_settings().NEO4J_DATABASE
    driver = graph_driver()
    repository.write_smoke_node(driver, database, node_id)
    try:
        return repository.read_smoke_node(driver, database, node_id)
    finally:
        repository.delete_smoke_node(driver, database, node_id)


@app.task(name="heracles.system.heartbeat")
def heartbeat() -> float:
    """Scheduled by beat, so `heracles status` can show that beat and a worker both run."""
    now = time.time()
    redis_client().set(HEARTBEAT_KEY, now)
    return now
