"""`/metrics` is open to a scraper on the box in dev, behind a bearer token when one is set, and
off in prod without one (its labels and figures are not for anyone who can reach the port)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.core.config import Settings

# Nothing listens here: the app never needs Neo4j or Redis to answer /metrics.
OFFLINE = {"NEO4J_URI": "bolt://127.0.0.1:1", "REDIS_URL": "redis://127.0.0.1:1/0"}


def _status(settings: Settings, headers: dict[str, str] | None = None) -> int:
    with TestClient(create_app(settings)) as client:
        return client.get("/metrics", headers=headers or {}).status_code


def test_metrics_needs_the_token_when_one_is_set() -> None:
    settings = Settings(ENV="dev", METRICS_TOKEN="scrape-me", **OFFLINE)  # type: ignore[arg-type]
    assert _status(settings) == 401
    assert _status(settings, {"authorization": "Bearer wrong"}) == 401
    assert _status(settings, {"authorization": "Bearer scrape-me"}) == 200


def test_metrics_is_open_in_dev_and_off_in_prod_without_a_token() -> None:
    assert _status(Settings(ENV="dev", **OFFLINE)) == 200  # type: ignore[arg-type]
    prod = Settings(ENV="prod", NEO4J_PASSWORD="a-real-one", **OFFLINE)  # type: ignore[arg-type]
    assert _status(prod) == 404
