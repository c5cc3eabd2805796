"""Readiness follows Neo4j down and back up without restarting the API (it stops Neo4j: runs
after every other test)."""

import time

import httpx
import pytest

from backend.core.config import Settings
from devstack.services import stack_for

pytestmark = pytest.mark.breaks_stack


def _wait_for_status(url: str, status: int, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(url, timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def test_readyz_names_neo4j_when_down_and_recovers(settings: Settings) -> None:
    stack = stack_for(settings)
    api_pid = stack.supervisor.record("api")
    assert api_pid is not None
    assert stack.supervisor.stop("neo4j", timeout_s=60)
    try:
        down = _wait_for_status(f"{settings.api_url}/readyz", 503, 10)
        assert down.status_code == 503
        assert down.json()["down"] == ["neo4j"]
    finally:
        neo4j_component = stack.component("neo4j")
        stack.supervisor.start(neo4j_component)
        stack.supervisor.wait_ready(neo4j_component)
    up = _wait_for_status(f"{settings.api_url}/readyz", 200, 30)
    assert up.status_code == 200, up.text
    assert stack.supervisor.record("api") == api_pid  # same API process throughout
