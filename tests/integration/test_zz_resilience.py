"""Faults during ingest: a worker SIGKILLed mid-batch, Neo4j stopped and restarted.

Each run must leave exactly the graph one clean delivery leaves. Runs last: it restarts parts
of the stack and restores them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from backend.core.config import Settings
from backend.ingest.files import IngestReport
from backend.stack.services import stack_for
from tests.eventgen import population
from tests.integration.ingest_helpers import (
    flushed_events,
    ingest,
    reset_state,
    snapshot,
    write_file,
)

BATCH = 25


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_file(
        tmp_path_factory.mktemp("resilience") / "events.jsonl",
        population(accounts=90, usage_per_account=30),
    )


@pytest.fixture(scope="module")
def reference(driver: Driver, settings: Settings, events_file: Path) -> tuple:
    reset_state(driver, settings)
    ingest(settings, events_file, batch_size=BATCH)
    return snapshot(driver, settings)


def assert_same_graph(got: tuple, expected: tuple) -> None:
    """Names the first differing nodes and relationships, not just "lists differ"."""
    for kind, a, b in (("nodes", got[0], expected[0]), ("relationships", got[1], expected[1])):
        extra, missing = sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5]
        assert a == b, f"{kind}: {len(a)} vs {len(b)}; unexpected {extra}; missing {missing}"


class Background:
    """An ingest with --wait running in a thread, so the test can break things meanwhile."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.report: IngestReport | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(settings, path), daemon=True)
        self.thread.start()

    def _run(self, settings: Settings, path: Path) -> None:
        try:
            self.report = ingest(settings, path, batch_size=BATCH)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float) -> IngestReport:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "ingest did not finish"
        assert self.error is None, self.error
        assert self.report is not None
        return self.report


def _wait_for_flushed(
    driver: Driver, settings: Settings, at_least: int, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while flushed_events(driver, settings) < at_least:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)


@pytest.fixture
def own_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """Swap the stack's worker for one this test may SIGKILL; put the stack's back after."""
    stack = stack_for(settings)
    component = stack.component("worker")
    stack.supervisor.stop("worker")
    argv = [arg if arg != component.argv[component.argv.index("-n") + 1] else "victim@%h"
            for arg in component.argv]  # fmt: skip
    log = (settings.STATE_DIR / "logs" / "victim-worker.log").open("ab")
    victim = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield victim
    finally:
        if victim.poll() is None:
            os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        stack.supervisor.start(component)
        stack.supervisor.wait_ready(component)


def test_worker_sigkilled_mid_ingest_loses_and_doubles_nothing(
    driver: Driver, settings: Settings, events_file: Path, reference: tuple,
    own_worker: subprocess.Popen[bytes],
) -> None:  # fmt: skip
    reset_state(driver, settings)
    run = Background(settings, events_file)
    _wait_for_flushed(driver, settings, 10 * BATCH)
    os.killpg(own_worker.pid, signal.SIGKILL)  # the pool children die with it, mid-batch
    own_worker.wait()
    in_graph_at_kill = flushed_events(driver, settings)
    # A fresh worker picks up the unacknowledged batches once their visibility timeout passes.
    stack = stack_for(settings)
    replacement = stack.component("worker")
    stack.supervisor.start(replacement)
    report = run.join(timeout=240)
    assert in_graph_at_kill < report.stats.accepted
    assert not report.stats.failed_batches
    assert_same_graph(snapshot(driver, settings), reference)
    stack.supervisor.stop("worker")  # the fixture restarts it


def test_neo4j_restart_during_ingest_completes_with_exact_counts(
    driver: Driver, settings: Settings, events_file: Path, reference: tuple
) -> None:
    reset_state(driver, settings)
    stack = stack_for(settings)
    run = Background(settings, events_file)
    _wait_for_flushed(driver, settings, 10 * BATCH)
    assert stack.supervisor.stop("neo4j", timeout_s=60)
    time.sleep(3)
    component = stack.component("neo4j")
    stack.supervisor.start(component)
    stack.supervisor.wait_ready(component)
    report = run.join(timeout=300)
    assert not report.stats.failed_batches
    assert_same_graph(snapshot(driver, settings), reference)
