"""The local stack the test command started: real Neo4j (auth on), Redis, worker, beat, API."""

import time
import uuid

import httpx
import neo4j
import pytest
import redis
from neo4j import Driver

from backend.core.config import Settings
from backend.graph.model import MERGE_KEYS
from backend.graph.schema_queries import migrate
from backend.system.tasks import heartbeat, ping, smoke_roundtrip
from devstack import lifecycle


def test_status_reports_all_five_components_healthy(settings: Settings) -> None:
    statuses = {item.name: item for item in lifecycle.status(settings)}
    assert set(statuses) == {"redis", "neo4j", "worker", "beat", "api"}
    unhealthy = {name: s.detail for name, s in statuses.items() if not s.healthy}
    assert not unhealthy


def test_neo4j_is_5_26_with_authentication_on(driver: Driver, settings: Settings) -> None:
    info = driver.get_server_info()
    assert info.agent.startswith("Neo4j/5.26."), info.agent
    wrong = neo4j.GraphDatabase.driver(settings.NEO4J_URI, auth=("neo4j", "not-the-password"))
    with wrong, pytest.raises(neo4j.exceptions.AuthError):
        wrong.verify_connectivity()


def test_redis_has_append_only_file_on(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.config_get("appendonly") == {"appendonly": "yes"}


def test_migration_is_idempotent_and_covers_every_merge_key(
    driver: Driver, settings: Settings
) -> None:
    first = migrate(driver, settings.NEO4J_DATABASE)
    second = migrate(driver, settings.NEO4J_DATABASE)
    assert first == second
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type "
        "WHERE type = 'UNIQUENESS' RETURN labelsOrTypes[0] AS label, properties[0] AS key",
        database_=settings.NEO4J_DATABASE,
    )
    present = {(r["label"], r["key"]) for r in records}
    assert set(MERGE_KEYS) <= present


def test_ping_task_through_the_real_worker() -> None:
    assert ping.delay().get(timeout=30) == "pong"


def test_smoke_roundtrip_through_the_real_worker(clean_graph: Driver, settings: Settings) -> None:
    node_id = f"t-{uuid.uuid4().hex}"
    assert smoke_roundtrip.delay(node_id).get(timeout=30) == node_id
    records, _, _ = clean_graph.execute_query(
        "MATCH (s:SmokeCheck) RETURN count(s) AS n", database_=settings.NEO4J_DATABASE
    )
    assert records[0]["n"] == 0  # it cleans up after itself


def test_tasks_called_directly(clean_graph: Driver, settings: Settings) -> None:
    assert smoke_roundtrip("direct-1") == "direct-1"
    assert heartbeat() > 0
    assert redis.Redis.from_url(settings.REDIS_URL).get("heracles:worker:heartbeat") is not None


def test_api_health_metrics_and_graphql(settings: Settings, driver: Driver) -> None:
    from backend.auth.roles import Role
    from backend.auth.tokens import create_token

    _, token = create_token(
        driver, settings.NEO4J_DATABASE, f"stack-{uuid.uuid4().hex[:8]}", Role.BANTOOL
    )
    base = settings.api_url
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"neo4j": "ok", "redis": "ok"}
    anonymous = httpx.post(
        f"{base}/graphql", json={"query": "{ apiVersion }"}, headers={"x-request-id": "abc-123"}
    )
    assert anonymous.status_code == 401 and anonymous.headers["x-request-id"] == "abc-123"
    response = httpx.post(
        f"{base}/graphql", json={"query": "{ apiVersion }"},
        headers={"x-request-id": "abc-124", "authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.json() == {"data": {"apiVersion": "0.1.0"}}
    assert response.headers["x-request-id"] == "abc-124"
    metrics = httpx.get(f"{base}/metrics").text
    assert 'heracles_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics
    backlog = next(line for line in metrics.splitlines() if line.startswith("heracles_ingest_jo"))
    assert float(backlog.split()[-1]) >= 0  # NaN (Redis unreachable) fails this
    # The browser's GET /graphql goes to the console's bundled explorer (outside prod).
    page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, follow_redirects=True)
    assert page.url.path == "/ui/explorer" and '<div id="root">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_api_logs_are_json_with_request_ids(settings: Settings) -> None:
    import json

    httpx.get(f"{settings.api_url}/healthz", headers={"x-request-id": "log-probe-7"})
    log_file = settings.STATE_DIR / "logs" / "api.log"
    # The line is written after the response is sent: wait for it (on a loaded machine the
    # first read can come before the write), never longer than the deadline.
    deadline = time.monotonic() + 10
    while True:
        text = log_file.read_text().splitlines()
        lines = [json.loads(line) for line in text if line.startswith("{")]
        if any(line.get("request_id") == "log-probe-7" and line["status"] == 200
               for line in lines):  # fmt: skip
            break
        assert time.monotonic() < deadline, "no JSON log line with the request id"
        time.sleep(0.1)
