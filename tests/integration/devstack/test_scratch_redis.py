"""The backfill's claims server (`devstack.scratch_redis`): nothing on disk, and gone with the
backfill however the backfill ends."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import redis

from devstack.scratch_redis import scratch_redis

_HOLD = """
import time
from devstack.scratch_redis import scratch_redis
with scratch_redis() as url:
    print(url, flush=True)
    time.sleep(120)
"""


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1.0).ping())
    except (redis.ConnectionError, FileNotFoundError):
        return False


def test_it_writes_nothing_to_disk_and_is_gone_after_use() -> None:
    with scratch_redis() as url:
        assert url is not None, "redis-server is installed wherever the stack runs"
        client = redis.Redis.from_url(url)
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        folder = Path(url.removeprefix("unix://").split("?")[0]).parent
    assert not _answers(url)
    assert not folder.exists()


def test_it_stops_when_the_backfill_is_killed() -> None:
    """SIGKILL runs no `finally`: the server must not outlive its parent holding the claims."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[3],
    )  # fmt: skip
    assert holder.stdout is not None
    url = holder.stdout.readline().strip()
    assert url.startswith("unix://") and _answers(url)
    holder.kill()
    holder.wait()
    deadline = time.monotonic() + 10
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _answers(url)
