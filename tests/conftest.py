"""Test configuration: every test runs against the *test* stack (tests/stack.env), never dev.

Integration tests use the real Neo4j, Redis, Celery worker, beat and API. The `stack` fixture
starts whatever is not running and, if it started anything, stops it again at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

for _line in (ROOT / "tests" / "stack.env").read_text().splitlines():
    if _line.strip() and not _line.startswith("#"):
        _key, _, _value = _line.partition("=")
        os.environ.setdefault(_key.strip(), _value.strip())

from neo4j import Driver  # noqa: E402
from rich.console import Console  # noqa: E402

from backend.core.config import Settings, get_settings  # noqa: E402
from tests.integration.ingest_helpers import wipe_graph  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that kill or restart parts of the stack run last (in collection order among
    themselves), so no other test meets a stack coming back up."""
    items.sort(key=lambda item: item.get_closest_marker("breaks_stack") is not None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    current = get_settings()
    assert current.ENV == "test", "tests must run against the test stack (tests/stack.env)"
    return current


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    from devstack import lifecycle

    already_up = all(item.healthy for item in lifecycle.status(settings))
    if not already_up:
        lifecycle.up(settings, Console(stderr=True))
    yield settings
    if not already_up:
        lifecycle.down(settings, Console(stderr=True))


@pytest.fixture(scope="session")
def driver(stack: Settings) -> Iterator[Driver]:
    from backend.graph.driver import create_driver

    with create_driver(stack) as graph_driver:
        yield graph_driver


@pytest.fixture
def clean_graph(driver: Driver, settings: Settings) -> Driver:
    """Neo4j Community has one user database: each test that writes starts from empty."""
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        wipe_graph(session)
    return driver
