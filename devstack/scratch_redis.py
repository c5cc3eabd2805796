"""A throwaway Redis for a backfill's staging claims: no snapshot, no append-only file.

The staging claims need no durability while the fold runs (a fold that stops is started again
from nothing, `bulk.clear_staging`), yet in the stack's Redis every claim went to the
append-only file, and the growing set (2 GiB at the `full` preset's 32M events) was written
out whole again by each 5-minute snapshot and each rewrite of that file: eight of them, 25-55 s
each, ~290 s of a core in a 24-minute `full` fold, on the two cores the fold workers need
(docs/benchmarks.md). Here the claims stay in memory until the fold ends, then move to the
stack's Redis once (`bulk.copy_staging`), where they are durable before any is promoted.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

START_TIMEOUT_S = 15.0


@contextmanager
def scratch_redis() -> Iterator[str | None]:
    """A private redis-server on a Unix socket, its URL; None where there is no
    `redis-server` to run (the claims then stay in the stack's Redis, as before)."""
    server = shutil.which("redis-server")
    if server is None:
        yield None
        return
    # A short path of its own: a Unix socket's path is limited to ~107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="heracles-claims-"))
    socket = folder / "redis.sock"
    argv = [
        server, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
        "--save", "", "--appendonly", "no", "--dir", str(folder), "--loglevel", "warning",
        "--logfile", str(folder / "redis.log"),
    ]  # fmt: skip
    # Its own output goes to its log, never to a pipe of ours it could hold open.
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    url = f"unix://{socket}?db=0"
    try:
        _wait(url, process)
        yield url
    finally:
        process.terminate()  # SIGTERM: with no persistence configured it writes nothing
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


_LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the backfill's process ends, however it ends
    (killed, it runs no `finally`), so no server is left holding gigabytes of claims."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_timeout=1.0)
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the claims' redis-server exited at start ({process.returncode})")
        try:
            client.ping()
            return
        except (redis.ConnectionError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the claims' redis-server did not answer within {START_TIMEOUT_S:.0f} s"
                ) from None
            time.sleep(0.05)
        finally:
            client.close()
