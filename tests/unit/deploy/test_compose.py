import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose found: run `make prereqs`")


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HERACLES_")}
    return subprocess.run(
        [*_compose(), "config", "-q"], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_compose_file_is_valid() -> None:
    result = _config({})
    assert result.returncode == 0, result.stderr


def test_compose_has_every_service_with_healthchecks() -> None:
    result = subprocess.run(
        [*_compose(), "config"], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "HERACLES_NEO4J_PASSWORD": "pw-from-env"},
    )  # fmt: skip
    config = result.stdout
    for service in ("neo4j:", "redis:", "api:", "worker:", "beat:", "flower:"):
        assert f"\n  {service}" in config
    assert "image: neo4j:5.26-community" in config
    assert "neo4j/pw-from-env" in config
    assert "cypher-shell" in config
    assert "service_healthy" in config
