"""`backend.api.serve`: connections opened at once spread over the workers, a dead worker is
replaced, SIGTERM stops them all. A real process tree on a real port; no stack needed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

WORKERS = 2
CONNECTIONS = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ask_pid(sock: socket.socket) -> int:
    sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


def _pids_over_fresh_connections(port: int, n: int) -> list[int]:
    """`n` keep-alive connections opened together (as a client pool does), one request each."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]
    try:
        return [_ask_pid(s) for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.api.serve", "--app", "tests.serve_app:create_app",
         "--port", str(port), "--workers", str(WORKERS)],
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if len(set(_pids_over_fresh_connections(port, 8))) >= 1:
                break
        except OSError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_connections_opened_together_spread_over_the_workers(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = server
    # Every worker is up once all of them have answered at least once.
    deadline = time.monotonic() + 60
    while len(set(_pids_over_fresh_connections(port, 16))) < WORKERS:
        assert time.monotonic() < deadline, "not every worker started"
    counts = Counter(_pids_over_fresh_connections(port, CONNECTIONS))
    assert len(counts) == WORKERS, counts
    # Uniform hashing gives each worker 20 of 40 on average; fewer than 8 has odds under 1e-4.
    assert min(counts.values()) >= 8, counts


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    deadline = time.monotonic() + 60
    while len(pids := set(_pids_over_fresh_connections(port, 16))) < WORKERS:
        assert time.monotonic() < deadline, "not every worker started"
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        try:  # connections the kernel had queued on the dead worker's socket are reset
            now = set(_pids_over_fresh_connections(port, 16))
        except OSError:
            now = set()
        if len(now) == WORKERS and victim not in now:
            break
        assert time.monotonic() < deadline, f"no replacement for worker {victim}: {now}"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for pid in now:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
