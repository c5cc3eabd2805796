"""`heracles backfill` against the real stack: the offline importer builds the graph the
incremental path builds, and ingest afterwards applies only what is new.

Each backfill stops the test stack's Neo4j, imports and starts it again (~30 s).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import typer
from neo4j import Driver
from rich.console import Console

from backend.auth.roles import Role
from backend.auth.tokens import create_token, list_tokens
from backend.cli.backfill import backfill
from backend.core.config import Settings
from backend.ingest import dlq, import_files
from backend.ingest import repository as ingest_queries
from backend.ingest.dedupe import SEEN
from devstack import lifecycle
from devstack.offline_import import IncompleteImport, replace_store
from tests.eventgen import population
from tests.integration.ingest_helpers import (
    count,
    flushed_events,
    forget_bookmarks,
    ingest,
    reset_state,
    snapshot,
    write_file,
)

pytestmark = pytest.mark.usefixtures("stack")

# What a real history holds beyond well-formed events: the same event twice, text with line
# breaks, quotes and commas, an empty string, non-ASCII, an IPv4-mapped IPv6 address, two
# spellings of one gmail mailbox, an identifier with a line break, backslashes before quotes
# and at the end of ids (the importer's CSV reader must not take them as escapes), a tab, CR
# LF, U+2028 and NUL in text, and lines that are not events at all.
_EXTRA_EVENTS = [
    {"type": "signup", "event_id": "odd-1", "account_id": "odd-a", "occurred_at":
     "2026-02-02T10:00:00Z", "email": "user.1@gmail.com", "ip": "::ffff:198.51.0.10",
     "user_agent": 'Mozilla/5.0 "quoted", with comma\nand a second line', "org_name": "",
     "device_id": "dev\nsplit", "country": "DE", "signup_channel": "Zürich — web"},
    {"type": "billing", "event_id": "odd-2", "account_id": "odd-a", "occurred_at":
     "2026-02-02T10:05:00+02:00", "payment_fingerprint": "pm-0", "billing_postal": "",
     "billing_address_hash": "addr,\"x\"", "amount_minor": 0, "status": None},
    {"type": "usage", "event_id": "odd-3", "account_id": "odd-a", "occurred_at":
     "2026-02-02T11:00:00Z", "model": "frontier-1", "input_tokens": 0, "output_tokens": 1},
    {"type": "signup", "event_id": "odd-4", "account_id": "odd-b\\", "occurred_at":
     "2026-02-02T12:00:00Z", "email": "b@example.com", "ip": "198.51.0.11",
     "user_agent": 'C:\\agent\\ "x\\"',
     "org_name": "tab\there\r\ncrlf \u2028 sep \u0000 nul", "device_id": "dev\\\""},
    {"type": "session", "event_id": "odd-5", "account_id": "odd-b\\", "occurred_at":
     "2026-02-02T12:05:00Z", "ip": "198.51.0.11", "device_id": "\\", "ip_org": "Org \\\"q\\\""},
]  # fmt: skip
# The third stopped the whole backfill once (an unhashable type, `columnar.accept`).
_BAD_LINES = ['{"type": "usage", "event_id": "bad-1"}', "not json at all",
              '{"type": [], "event_id": "bad-3"}']  # fmt: skip


def _history(tmp_path: Path) -> tuple[Path, list[str]]:
    lines = population(accounts=90, usage_per_account=12, seed=5)
    lines += [json.dumps(event) for event in _EXTRA_EVENTS]
    lines += lines[:40]  # delivered twice
    lines.insert(17, _BAD_LINES[0])
    lines.insert(300, _BAD_LINES[1])
    lines.insert(500, _BAD_LINES[2])
    return write_file(tmp_path / "history.jsonl", lines), lines


def _json(line: str) -> dict[str, object]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _ApiWatch(threading.Thread):
    """Ingest's claims at the moment the API answers again after the backfill stopped it."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.url, self.client = f"{settings.api_url}/readyz", client
        self.was_down = False
        self.claims_when_back: set[bytes] | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                up = httpx.get(self.url, timeout=1).status_code == 200
            except httpx.HTTPError:
                up = False
            if not up:
                self.was_down = True
            elif self.was_down:
                self.claims_when_back = _claim_buckets(self.client)
                return
            time.sleep(0.05)


def _claim_buckets(client: redis.Redis) -> set[bytes]:
    return set(client.scan_iter(match=f"{SEEN}*", count=1000))


def _backfill(driver: Driver, path: Path, work: Path, replace: bool = False) -> dict[str, Any]:
    try:
        backfill(Console(quiet=True), [path], 2, replace, work, False, False, work / "summary.json")
    finally:
        forget_bookmarks(driver)
    summary: dict[str, Any] = json.loads((work / "summary.json").read_text())
    return summary


def test_backfill_builds_the_graph_ingest_builds_and_ingest_then_adds_only_what_is_new(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    history, lines = _history(tmp_path)
    client = redis.Redis.from_url(settings.REDIS_URL)

    reset_state(driver, settings)
    report = ingest(settings, history)
    assert report.stats.rejected == len(_BAD_LINES)
    incremental = snapshot(driver, settings)
    events = flushed_events(driver, settings)

    reset_state(driver, settings)
    summary = _backfill(driver, history, tmp_path / "work")
    assert snapshot(driver, settings) == incremental  # every node and relationship, every property
    # Detection's packed inputs among them, from the importer's files, not packed afterwards.
    assert summary["inputs_packed_after_import"] == 0
    assert flushed_events(driver, settings) == events
    kept = [letter.rejection for letter in dlq.read(client, 100)]
    assert sorted((r.location, r.raw) for r in kept) == sorted(
        (f"line {lines.index(raw) + 1}", raw) for raw in _BAD_LINES
    )
    assert all(r.source == str(history) for r in kept)

    # Overlapping files after the backfill: only the new events apply.
    new = population(accounts=100, usage_per_account=12, seed=5)
    new_only = [line for line in new if line not in set(lines)]
    overlap = write_file(tmp_path / "overlap.jsonl", lines[::3] + new_only)
    report = ingest(settings, overlap)
    assert report.stats.applied == len({json.loads(line)["event_id"] for line in new_only})
    after_both = snapshot(driver, settings)

    reset_state(driver, settings)
    ingest(settings, history)
    ingest(settings, overlap)
    assert after_both == snapshot(driver, settings)


def test_backfill_refuses_a_graph_that_holds_data_and_replace_keeps_only_the_tokens(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    history, lines = _history(tmp_path)
    reset_state(driver, settings)
    gone = dict(_EXTRA_EVENTS[0], event_id="gone-signup", account_id="gone-1")
    earlier = write_file(tmp_path / "earlier.jsonl", [json.dumps(gone)])
    ingest(settings, earlier)
    before = snapshot(driver, settings)
    with pytest.raises(typer.Exit) as refused:
        _backfill(driver, history, tmp_path / "work")
    assert refused.value.exit_code == 3
    assert snapshot(driver, settings) == before

    token_id, token = create_token(driver, settings.NEO4J_DATABASE, "kept", Role.ANALYST)
    client = redis.Redis.from_url(settings.REDIS_URL)
    watch = _ApiWatch(settings, client)
    watch.start()
    try:
        _backfill(driver, history, tmp_path / "work", replace=True)
    finally:
        watch.stop.set()
        watch.join(timeout=10)
    # The API came back only once the new graph's claims had replaced the old graph's: an
    # event ingested at once is neither applied twice nor lost with the old journal.
    assert watch.was_down
    assert watch.claims_when_back == _claim_buckets(client)
    assert len(watch.claims_when_back) > 1  # the old graph had one event: its single bucket
    accounts = {event["account_id"] for event in map(_json, lines) if "account_id" in event}
    assert count(driver, settings, "MATCH (a:Account) RETURN count(a)") == len(accounts)
    assert count(driver, settings, "MATCH (a:Account {id: 'gone-1'}) RETURN count(a)") == 0
    assert token_id in {t.id for t in list_tokens(driver, settings.NEO4J_DATABASE)}
    answer = httpx.post(f"{settings.api_url}/graphql", json={"query": "{ __typename }"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    # The replaced graph's claims went with it: the old event applies again.
    assert ingest(settings, earlier).stats.applied == 1


def test_a_failed_import_leaves_the_graph_it_found_and_the_stack_running(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    """Neo4j is killed, not stopped, before the import (`devstack.offline_import`): when the
    import then fails before it writes, the server comes back on its own store, recovered."""
    reset_state(driver, settings)
    ingest(settings, write_file(tmp_path / "some.jsonl", population(accounts=12, seed=8)))
    before = snapshot(driver, settings)
    missing = tmp_path / "no-such-file.csv"
    completed: list[bool] = []
    with pytest.raises(RuntimeError, match="import failed"):
        replace_store(settings, [f"--nodes=Account={missing}"], lambda _: None,
                      tmp_path / "import.log", lambda: completed.append(True))  # fmt: skip
    forget_bookmarks(driver)
    assert snapshot(driver, settings) == before
    assert not completed  # a failed import's graph is not completed, nor claims handed over
    answer = httpx.get(f"{settings.api_url}/readyz", timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_graph_imported_but_not_completed_keeps_the_api_beat_and_worker_stopped(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    """Started on such a graph, they would ingest events its files held a second time (its
    claims are not ingest's yet); so they stay stopped until the operator acts."""
    reset_state(driver, settings)
    database = settings.NEO4J_DATABASE
    tokens = ingest_queries.read_tokens(driver, database)
    root = tmp_path / "csv"
    import_files.write_headers(root)  # nothing to import: an empty store, imported quickly

    def fails() -> None:
        raise RuntimeError("the schema could not be applied")

    try:
        with pytest.raises(IncompleteImport) as stopped:
            replace_store(settings, import_files.importer_arguments(root, False),
                          lambda _: None, tmp_path / "import.log", fails)  # fmt: skip
        assert sorted(stopped.value.stopped) == ["api", "beat", "worker"]
        assert isinstance(stopped.value.__cause__, RuntimeError)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{settings.api_url}/readyz", timeout=2)
        forget_bookmarks(driver)
        assert count(driver, settings, "MATCH (n) RETURN count(n)") == 0  # Neo4j answers
    finally:
        forget_bookmarks(driver)
        lifecycle.up(settings, Console(quiet=True))  # the schema, then the three again
        ingest_queries.restore_tokens(driver, database, tokens)
    assert httpx.get(f"{settings.api_url}/readyz", timeout=10).status_code == 200
