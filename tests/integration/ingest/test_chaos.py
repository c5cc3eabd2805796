"""The chaos run (tests/chaos.py), short: a few thousand events in by both doors while the
worker is SIGKILLed three times, Redis SIGKILLed, Neo4j and the API restarted and a `heracles
ingest` SIGKILLed and run again; the graph must equal a clean load of the same events, row for
row. It breaks the stack (and leaves it running again), so it runs after every other test.
`make chaos` is the full size."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.config import Settings
from tests.chaos import Plan, run

pytestmark = pytest.mark.breaks_stack


def test_faults_while_ingesting_lose_and_double_nothing(settings: Settings, tmp_path: Path) -> None:
    plan = Plan(accounts=90, worker_kills=3, kill_every_s=3.0, chunk_lines=200)
    outcome = run(settings, plan, tmp_path, lambda _: None)
    kinds = {f.what for f in outcome.faults}
    assert kinds == {
        "SIGKILL worker", "SIGKILL heracles ingest", "SIGKILL redis", "restart neo4j",
        "restart api",
    }, kinds  # fmt: skip
    assert outcome.events > 2000 and outcome.events_in_reference == outcome.account_events
    assert (outcome.lost, outcome.doubled) == (0, 0), outcome.summary()
    assert outcome.identical, (outcome.missing_rows[:3], outcome.unexpected_rows[:3])
