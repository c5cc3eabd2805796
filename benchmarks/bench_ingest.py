"""`make bench-ingest`: file → committed graph through the real stack, and a naive baseline.

Measures, on whatever machine runs it, with Neo4j, Redis, the worker and this producer all on it:
- identity events (signup/session/billing) per second, end to end (`heracles ingest --wait`);
- usage events per second, end to end;
- the worker's peak RSS (VmHWM of the worker and its pool processes);
- the same events applied one transaction per event (a slice), for the speed-up ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from rich.console import Console

from backend.cli.views import IngestProgress
from backend.core.config import Settings, get_settings
from backend.events.contract import parse_event
from backend.graph.driver import create_driver
from backend.ingest.files import ingest_files
from backend.ingest.journal import JOURNAL
from backend.ingest.plan import build_plan
from backend.ingest.producer import Producer
from backend.ingest.repository import write_plan
from benchmarks.events import write
from devstack import lifecycle
from devstack.services import stack_for

console = Console()


# Above this many relationships the graph is emptied by replacing its store, not by deleting:
# Cypher deleted the `full` preset's 32.8M for more than 15 minutes without finishing, while a
# backfill of nothing replaced that store and restarted the stack in 37 s (2026-12-03; the
# store then holds ingest's checkpoint alone, at the journal's start). `medium`'s 3.3M take
# about as long either way.
WIPE_BY_IMPORT = 2_000_000


def _wipe(settings: Settings) -> None:
    with create_driver(settings) as driver, driver.session(database=settings.NEO4J_DATABASE) as s:
        relationships = s.run("MATCH ()-[r]->() RETURN count(r) AS n").single(strict=True)["n"]
        if relationships <= WIPE_BY_IMPORT:
            s.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS").consume()
            s.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 50000 ROWS").consume()
    if relationships > WIPE_BY_IMPORT:  # the driver closed first: the backfill restarts Neo4j
        with tempfile.TemporaryDirectory() as folder:
            nothing = Path(folder) / "nothing.jsonl"
            nothing.touch()
            argv = [sys.executable, "-m", "backend.cli.main", "backfill", str(nothing),
                    "--replace", "--no-progress"]  # fmt: skip
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("heracles:seen:*", "heracles:ingest:staged:*"):
        for key in client.scan_iter(pattern, count=5000):
            client.delete(key)
    client.delete(JOURNAL)


def _worker_peak_rss_mib(settings: Settings) -> float:
    record = stack_for(settings).supervisor.record("worker")
    if record is None:
        return 0.0
    peak = 0
    for status in Path("/proc").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        try:
            in_group = os.getpgid(int(status.parent.name)) == record.pid
        except (OSError, ValueError):
            in_group = False
        if in_group and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]))
    return peak / 1024


def _end_to_end(settings: Settings, path: Path, label: str) -> dict[str, float]:
    producer = Producer(redis.Redis.from_url(settings.REDIS_URL), settings.INGEST_BATCH_SIZE,
                        settings.INGEST_MAX_INFLIGHT,
                        max_backlog=settings.INGEST_MAX_JOURNAL_BACKLOG)  # fmt: skip
    report = ingest_files([path], producer, wait=True, observer=IngestProgress(console, bar=False))
    assert not report.stats.failed_batches and report.stats.rejected == 0
    rate = report.stats.accepted / report.seconds
    console.print(
        f"{label}: {report.stats.accepted} events in {report.seconds:.1f}s = {rate:,.0f}/s"
    )
    return {
        "events": report.stats.accepted,
        "seconds": round(report.seconds, 2),
        "rate": round(rate),
    }


def _naive(settings: Settings, path: Path, events: int) -> dict[str, float]:
    """One transaction per event, same Cypher, no queue: what batching is measured against."""
    with gzip.open(path, "rt") as handle:
        parsed = [parse_event(next(handle)) for _ in range(events)]
    with create_driver(settings) as driver, driver.session(database=settings.NEO4J_DATABASE) as s:
        started = time.perf_counter()
        for event in parsed:
            s.execute_write(write_plan, build_plan([event]))
        seconds = time.perf_counter() - started
    rate = events / seconds
    console.print(f"naive, one transaction per event: {events} in {seconds:.1f}s = {rate:,.0f}/s")
    return {"events": events, "seconds": round(seconds, 2), "rate": round(rate)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--identity-events", type=int, default=200_000)
    parser.add_argument("--usage-events", type=int, default=500_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--naive-events", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=Path(".local/bench/ingest.json"))
    args = parser.parse_args()

    settings = get_settings()
    lifecycle.up(settings, console)
    data = settings.STATE_DIR / "data"
    data.mkdir(parents=True, exist_ok=True)
    identity = data / f"identity-{args.identity_events}-{args.accounts}.jsonl.gz"
    usage = data / f"usage-{args.usage_events}-{args.accounts}.jsonl.gz"
    if not identity.exists():
        write(identity, "identity", args.identity_events, args.accounts)
    if not usage.exists():
        write(usage, "usage", args.usage_events, args.accounts, seed=11)

    _wipe(settings)
    results: dict[str, object] = {
        "identity": _end_to_end(settings, identity, "signup/session/billing"),
        "usage": _end_to_end(settings, usage, "usage"),
        "worker_peak_rss_mib": round(_worker_peak_rss_mib(settings)),
        "batch_size": settings.INGEST_BATCH_SIZE,
        "worker_concurrency": settings.WORKER_CONCURRENCY,
    }
    _wipe(settings)
    results["naive_identity"] = _naive(settings, identity, args.naive_events)
    results["naive_usage"] = _naive(settings, usage, args.naive_events)
    for kind in ("identity", "usage"):
        batched, naive = results[kind], results[f"naive_{kind}"]
        results[f"speedup_{kind}"] = round(batched["rate"] / naive["rate"], 1)  # type: ignore[index]
    console.print(f"worker peak RSS: {results['worker_peak_rss_mib']} MiB")
    console.print(f"speed-up over one transaction per event: identity x{results['speedup_identity']}, "
                  f"usage x{results['speedup_usage']}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"results in {args.out}")


if __name__ == "__main__":
    main()
