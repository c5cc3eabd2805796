"""Per-process resources of a worker: one Neo4j driver and one Redis client, made once."""

from __future__ import annotations

import gc
from typing import Any

import redis
from celery.signals import worker_process_init, worker_process_shutdown
from neo4j import Driver

from backend.core.config import get_settings
from backend.graph.driver import create_driver

_driver: Driver | None = None
_redis: redis.Redis | None = None


def graph_driver() -> Driver:
    """The process's driver; created lazily too, so tasks can be called directly in tests."""
    global _driver
    if _driver is None:
        _driver = create_driver(get_settings())
    return _driver


def redis_client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(get_settings().REDIS_URL)
    return _redis


@worker_process_init.connect
def _open(**_: Any) -> None:
    tune_gc()
    graph_driver()


def tune_gc() -> None:
    """Folding allocates millions of short-lived, acyclic lists and dicts; at Python's default
    thresholds each burst makes the collector re-scan the long-lived heap (the normaliser
    caches, the driver) again and again. Freezing what exists at start and collecting less
    often took ingest's Python work from 69 to 35 µs per usage event (docs/benchmarks.md)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    global _driver
    if _driver is not None:
        _driver.close()
        _driver = None
