"""Chaos: ingest a population while the stack is broken again and again, then compare the graph,
node by node and relationship by relationship with their properties, with a clean load of the
same events.

The events go in by both doors at once: part through `POST /v1/events` (chunks, each resent
until it is accepted: delivery is at-least-once), part through `heracles ingest --wait`
processes (one of them SIGKILLed mid-run and run again). Meanwhile: the Celery worker SIGKILLed
(its whole process group, pool children mid-batch) and started again, over and over; Redis
SIGKILLed once; Neo4j restarted once; the API restarted during the POST traffic. Then, once
nothing is queued, unacknowledged or journalled, the graph is dumped; the same file is loaded
again into an emptied graph with no fault, dumped, and the two compared.

`make chaos` runs it at full size on its own stack (tests/chaos.env); `make test` runs a short
version on the test stack (tests/integration/ingest/test_chaos.py). Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from neo4j import Driver
from rich.console import Console

from backend.auth.roles import Role
from backend.auth.tokens import create_token
from backend.core.config import PROJECT_ROOT, Settings, get_settings
from backend.graph.driver import create_driver
from backend.ingest.journal import JOURNAL
from devstack import lifecycle
from devstack.services import stack_for
from seed.generate import generate
from tests.eventgen import population
from tests.integration.ingest_helpers import reset_state, snapshot

HERACLES = [sys.executable, "-m", "backend.cli.main"]
CELERY_QUEUE = "heracles"
# How long the pipeline must look idle before the dump: longer than the visibility timeout, so
# a batch a killed worker held has been handed out again (and applied) by then.
QUIET_EXTRA_S = 5.0
SEED_MIN_ACCOUNTS = 2000


@dataclass
class Plan:
    accounts: int = 2000  # ~120,000 events (seed defaults: ~60 per account)
    usage_scale: float = 1.0
    seed: int = 7
    worker_kills: int = 20
    kill_every_s: float = 4.0
    http_share: float = 0.6
    chunk_lines: int = 1000
    cli_parts: int = 3


@dataclass
class Fault:
    what: str
    at_s: float
    recovered_s: float


@dataclass
class Outcome:
    events: int
    account_events: int  # the events about an account (a model release is about none)
    accepted_http_chunks: int
    http_retries: int
    cli_runs: int
    faults: list[Fault] = field(default_factory=list)
    chaos_s: float = 0.0
    quiet_s: float = 0.0
    reference_s: float = 0.0
    events_in_graph: int = 0
    events_in_reference: int = 0
    missing_rows: list[str] = field(default_factory=list)
    unexpected_rows: list[str] = field(default_factory=list)
    node_rows: int = 0
    relationship_rows: int = 0

    @property
    def lost(self) -> int:
        return max(0, self.events_in_reference - self.events_in_graph)

    @property
    def doubled(self) -> int:
        return max(0, self.events_in_graph - self.events_in_reference)

    @property
    def identical(self) -> bool:
        return not self.missing_rows and not self.unexpected_rows

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for f in self.faults:
            counts[f.what] = counts.get(f.what, 0) + 1
        return {
            "events": self.events,
            "faults": counts,
            "events lost": self.lost,
            "events doubled": self.doubled,
            "graph identical to a clean load": self.identical,
            "rows compared (nodes / relationships)": f"{self.node_rows} / {self.relationship_rows}",
            "differing rows (missing / unexpected)": f"{len(self.missing_rows)} / "
            f"{len(self.unexpected_rows)}",
            "recovery, worst (s)": {
                what: round(max(f.recovered_s for f in self.faults if f.what == what), 1)
                for what in counts
            },
            "chaos run (s)": round(self.chaos_s, 1),
            "pipeline idle after the last fault (s)": round(self.quiet_s, 1),
            "clean reference load (s)": round(self.reference_s, 1),
            "POST chunks accepted / resent": f"{self.accepted_http_chunks} / {self.http_retries}",
            "`heracles ingest` runs (one SIGKILLed)": self.cli_runs,
        }


class Breaker:
    """Kills and restarts the stack's processes through the supervisor that started them."""

    def __init__(self, settings: Settings, started: float) -> None:
        self.stack = stack_for(settings)
        self.started = started
        self.faults: list[Fault] = []

    def _kill_group(self, name: str) -> None:
        record = self.stack.supervisor.record(name)
        assert record is not None, f"{name} is not running"
        os.killpg(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.stack.supervisor._group_alive(record.pid):
            assert time.monotonic() < deadline, f"{name} survived SIGKILL"
            time.sleep(0.05)
        self.stack.supervisor.record(name)  # drops the stale pid file

    def _start(self, name: str) -> None:
        component = self.stack.component(name)
        self.stack.supervisor.start(component)
        self.stack.supervisor.wait_ready(component)

    def sigkill(self, name: str) -> None:
        began = time.monotonic()
        self._kill_group(name)
        self._start(name)
        self.faults.append(Fault(f"SIGKILL {name}", began - self.started,
                                 time.monotonic() - began))  # fmt: skip

    def restart(self, name: str) -> None:
        began = time.monotonic()
        self.stack.supervisor.stop(name, timeout_s=60)
        self._start(name)
        self.faults.append(Fault(f"restart {name}", began - self.started,
                                 time.monotonic() - began))  # fmt: skip


class HttpSender(threading.Thread):
    """Sends its lines in chunks as the fault schedule releases them (`release(fraction)`), so
    POST traffic runs through every fault; a chunk the API did not accept (down, restarting,
    5xx, a dropped connection) is sent again until it is: at-least-once."""

    def __init__(self, url: str, token: str, lines: list[bytes], chunk: int):
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.chunks = [b"".join(lines[i : i + chunk]) for i in range(0, len(lines), chunk)]
        self.accepted = 0
        self.retries = 0
        self.error: BaseException | None = None
        self._allowed = 0
        self._gate = threading.Condition()

    def release(self, fraction: float) -> None:
        with self._gate:
            self._allowed = max(self._allowed, round(len(self.chunks) * min(1.0, fraction)))
            self._gate.notify()

    def run(self) -> None:
        try:
            with httpx.Client(timeout=60) as client:
                for i, body in enumerate(self.chunks):
                    with self._gate:
                        self._gate.wait_for(lambda i=i: i < self._allowed)  # type: ignore[misc]
                    self._send(client, body)
        except BaseException as exc:  # reported by the caller
            self.error = exc

    def _send(self, client: httpx.Client, body: bytes) -> None:
        deadline = time.monotonic() + 600
        while True:
            try:
                response = client.post(
                    f"{self.url}/v1/events", content=body,
                    headers={"authorization": f"Bearer {self.token}",
                             "content-type": "application/x-ndjson"},
                )  # fmt: skip
                if response.status_code == 202:
                    body_json = response.json()
                    assert not body_json.get("rejected"), body_json
                    self.accepted += 1
                    return
                assert response.status_code >= 500 or response.status_code == 429, response.text
            except httpx.TransportError:
                pass
            self.retries += 1
            assert time.monotonic() < deadline, "the API never took a chunk back"
            time.sleep(0.5)


def _cli(settings: Settings, path: Path) -> subprocess.Popen[bytes]:
    log = (settings.STATE_DIR / "logs" / "chaos-ingest.log").open("ab")
    return subprocess.Popen(
        [*HERACLES, "ingest", str(path), "--wait", "--no-progress"],
        stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True,
    )  # fmt: skip


def _pipeline_idle(client: redis.Redis) -> bool:
    return (
        client.llen(CELERY_QUEUE) == 0 and client.hlen("unacked") == 0 and client.xlen(JOURNAL) == 0
    )


def wait_until_idle(settings: Settings, timeout_s: float = 900) -> float:
    """Nothing queued, unacknowledged or journalled, continuously for longer than the
    visibility timeout (Redis may refuse a moment after its restart: retried)."""
    began = time.monotonic()
    need = settings.CELERY_VISIBILITY_TIMEOUT_S + QUIET_EXTRA_S
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    idle_since: float | None = None
    while True:
        assert time.monotonic() - began < timeout_s, "the pipeline never went idle"
        try:
            idle = _pipeline_idle(client)
        except redis.RedisError:
            idle = False
        now = time.monotonic()
        if not idle:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= need:
            return now - began
        time.sleep(0.5)


def events_in_graph(driver: Driver, settings: Settings) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (a:Account) RETURN coalesce(sum(a.events), 0) AS n",
        database_=settings.NEO4J_DATABASE,
    )
    return int(records[0]["n"])


def prepare(work: Path, plan: Plan) -> tuple[Path, list[bytes], list[Path]]:
    """The population (the seed generator's; below its 2,000-account floor, the tests' small
    one), its lines split between the HTTP door and the CLI's files."""
    source = work / "events.jsonl.gz"
    if plan.accounts >= SEED_MIN_ACCOUNTS:
        generate(plan.accounts, plan.seed, work, plan.usage_scale)
    else:
        text = "\n".join(population(plan.accounts, 30, plan.seed)) + "\n"
        source.write_bytes(gzip.compress(text.encode()))
    with gzip.open(source, "rb") as f:
        lines = [line if line.endswith(b"\n") else line + b"\n" for line in f if line.strip()]
    cut = int(len(lines) * plan.http_share)
    http_lines, cli_lines = lines[:cut], lines[cut:]
    size = -(-len(cli_lines) // plan.cli_parts)
    parts = []
    for i in range(plan.cli_parts):
        part = work / f"cli-{i}.jsonl"
        part.write_bytes(b"".join(cli_lines[i * size : (i + 1) * size]))
        parts.append(part)
    return source, http_lines, parts


def run(settings: Settings, plan: Plan, work: Path, say: Callable[[str], None]) -> Outcome:
    work.mkdir(parents=True, exist_ok=True)
    source, http_lines, parts = prepare(work, plan)
    cli_lines = [line for p in parts for line in p.open("rb")]
    total = len(http_lines) + len(cli_lines)
    account_events = sum(b'"account_id"' in line for line in (*http_lines, *cli_lines))
    say(f"{total:,} events: {len(http_lines):,} over HTTP, the rest in {len(parts)} CLI runs")
    with create_driver(settings) as driver:
        reset_state(driver, settings)
        token = create_token(driver, settings.NEO4J_DATABASE, f"chaos-{time.time_ns()}",
                             Role.INGEST)[1]  # fmt: skip

    started = time.monotonic()
    breaker = Breaker(settings, started)
    sender = HttpSender(settings.api_url, token, http_lines, plan.chunk_lines)
    sender.start()
    sender.release(1 / (plan.worker_kills + 1))
    cli_runs = 0
    cli: list[tuple[Path, subprocess.Popen[bytes]]] = []

    def launch(part: Path) -> None:
        nonlocal cli_runs
        cli_runs += 1
        cli.append((part, _cli(settings, part)))

    # The schedule, by worker kill: CLI files start spread over the run; the first CLI run is
    # SIGKILLed and run again; Redis, Neo4j and the API are broken once each in between.
    launch(parts[0])
    time.sleep(min(plan.kill_every_s, 2.0))
    victim_part, victim = cli[0]
    running = victim.poll() is None
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    breaker.faults.append(Fault("SIGKILL heracles ingest" + ("" if running else " (had exited)"),
                                time.monotonic() - started, 0))  # fmt: skip
    launch(victim_part)
    for k in range(plan.worker_kills):
        # The next share of the POST traffic goes out while the next faults happen.
        sender.release((k + 2) / (plan.worker_kills + 1))
        for i in range(1, len(parts)):
            if k == (i * plan.worker_kills) // len(parts):
                launch(parts[i])
        if k == plan.worker_kills // 4:
            breaker.sigkill("redis")
            say("Redis SIGKILLed and back")
        if k == plan.worker_kills // 2:
            breaker.restart("neo4j")
            say("Neo4j restarted")
        if k == (3 * plan.worker_kills) // 4:
            breaker.restart("api")
            say(f"API restarted during the POST traffic ({sender.retries} chunks resent so far)")
        time.sleep(plan.kill_every_s)
        breaker.sigkill("worker")
        say(f"worker SIGKILLed ({k + 1}/{plan.worker_kills}); {sender.accepted} chunks in")

    sender.release(1.0)
    sender.join(timeout=900)
    assert not sender.is_alive(), "the HTTP sender never finished"
    if sender.error is not None:
        raise sender.error
    for part, process in list(cli):
        rc = process.wait(timeout=900)
        if rc == -signal.SIGKILL:
            continue  # the run killed on purpose: it was started again
        while rc != 0:  # a run a fault broke (Redis gone under it): what an operator does
            say(f"heracles ingest {part.name} exited {rc}: run again")
            launch(part)
            rc = cli[-1][1].wait(timeout=900)
    chaos_s = time.monotonic() - started
    quiet_s = wait_until_idle(settings)
    say(f"chaos over in {chaos_s:.0f} s; pipeline idle after {quiet_s:.0f} s more")

    with create_driver(settings) as driver:
        got = snapshot(driver, settings)
        got_events = events_in_graph(driver, settings)
        reset_state(driver, settings)
    began = time.monotonic()
    rc = subprocess.run(
        [*HERACLES, "ingest", str(source), "--wait", "--no-progress"],
        cwd=PROJECT_ROOT, capture_output=True, check=False,
    ).returncode  # fmt: skip
    assert rc == 0, f"the clean reference load failed ({rc})"
    reference_s = time.monotonic() - began
    with create_driver(settings) as driver:
        expected = snapshot(driver, settings)
        expected_events = events_in_graph(driver, settings)
    # The graph as ingest builds it: the API tokens (the chaos run's own among them) are not.
    got = ([r for r in got[0] if not r.startswith("(['ApiToken']")], got[1])
    expected = ([r for r in expected[0] if not r.startswith("(['ApiToken']")], expected[1])
    missing, unexpected = [], []
    for a, b in ((got[0], expected[0]), (got[1], expected[1])):
        missing += sorted(set(b) - set(a))
        unexpected += sorted(set(a) - set(b))
    return Outcome(
        events=total, account_events=account_events, accepted_http_chunks=sender.accepted, http_retries=sender.retries,
        cli_runs=cli_runs, faults=breaker.faults, chaos_s=chaos_s, quiet_s=quiet_s,
        reference_s=reference_s, events_in_graph=got_events, events_in_reference=expected_events,
        missing_rows=missing, unexpected_rows=unexpected, node_rows=len(expected[0]),
        relationship_rows=len(expected[1]),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=Plan.accounts)
    parser.add_argument("--usage-scale", type=float, default=Plan.usage_scale)
    parser.add_argument("--worker-kills", type=int, default=Plan.worker_kills)
    parser.add_argument("--kill-every", type=float, default=Plan.kill_every_s)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    console = Console()
    plan = Plan(accounts=args.accounts, usage_scale=args.usage_scale,
                worker_kills=args.worker_kills, kill_every_s=args.kill_every)  # fmt: skip
    lifecycle.up(settings, console)
    outcome = run(settings, plan, settings.STATE_DIR / "chaos", console.print)
    summary = {"neo4j heap": settings.NEO4J_HEAP, **outcome.summary()}
    console.print_json(json.dumps(summary))
    for row in outcome.missing_rows[:5] + outcome.unexpected_rows[:5]:
        console.print(row, markup=False)
    out = args.json or settings.STATE_DIR / "chaos.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    sys.exit(0 if outcome.identical and not outcome.lost and not outcome.doubled else 1)


if __name__ == "__main__":
    main()
