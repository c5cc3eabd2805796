"""`make bench-backfill`: a seed preset from file to queryable graph with `heracles backfill`.

Runs the command as a user would (a subprocess, on the bench stack) and samples the resident
memory of its whole process tree (reader, fold workers, the importer's JVM) every half second.
Before it, the first `--slice-events` lines of the same file go through the incremental path
(`heracles ingest --wait` into an emptied graph, twice), for the ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from rich.console import Console

from backend.core.config import Settings, get_settings
from backend.graph.driver import create_driver
from backend.ingest.dedupe import SEEN
from benchmarks.bench_ingest import _end_to_end, _wipe
from benchmarks.machine import _children, describe
from benchmarks.seeded import report, seed_dir
from devstack import lifecycle
from seed.generate import generate
from seed.scenarios import PRESETS

console = Console()


def _tree_rss_kib(pid: int) -> int:
    tree, total, todo = _children(), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(tree.get(p, []))
    return total


def _backfill(path: Path, summary: Path, workers: int) -> dict[str, object]:
    argv = [
        sys.executable, "-m", "backend.cli.main", "backfill", str(path), "--replace",
        "--no-progress", "--json", str(summary), *(["--workers", str(workers)] if workers else []),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(argv)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, _tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"backfill failed ({code})")
    result: dict[str, object] = json.loads(summary.read_text())
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["peak_rss_mib"] = round(peak / 1024)
    return result


def _claims_memory(settings: Settings) -> dict[str, float]:
    """What the claims the backfill handed to ingest hold in Redis (issue 13 asks it stay
    reasonable at 32M events): every bucket measured, not sampled."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{SEEN}*", count=5000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
        pipe.hlen(key)
    values = pipe.execute() if keys else []
    held, ids = sum(values[0::2]), sum(values[1::2])
    used = client.info("memory")["used_memory"]
    return {
        "buckets": len(keys), "ids": ids, "mib": round(held / 2**20, 1),
        "bytes_per_id": round(held / max(ids, 1), 1), "redis_used_mib": round(used / 2**20, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="medium", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--usage-scale", type=float, default=None, help="Default: the preset's.")
    parser.add_argument("--slice-events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    settings = get_settings()
    lifecycle.up(settings, console)
    spec = PRESETS[args.preset]
    scale = spec.usage_scale if args.usage_scale is None else args.usage_scale
    folder = seed_dir(settings, args.preset, scale)
    events = folder / "events.jsonl.gz"
    if not events.exists():
        generate(spec.accounts, args.seed, folder, scale)
    machine = describe()

    slice_path = folder / f"slice-{args.slice_events}.jsonl"
    with gzip.open(events, "rt") as source:
        slice_path.write_text("".join(itertools.islice(source, args.slice_events)))
    # Twice, the first only to warm Neo4j up (a backfill restarts it; a cold server's JIT and
    # page cache made the first slice up to 2x slower, which would flatter the ratio).
    for label in ("warm-up", "measured"):
        _wipe(settings)
        incremental = _end_to_end(settings, slice_path, f"incremental ({label})")

    result = _backfill(events, folder / "backfill.json", args.workers)
    with create_driver(settings) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (a:Account) RETURN count(a) AS n", database_=settings.NEO4J_DATABASE
        )
    result["accounts_in_graph"] = records[0]["n"]
    result["claims_in_redis"] = _claims_memory(settings)
    result["incremental_slice"] = incremental
    rate = float(str(result["events_per_s"]))
    result["ratio_to_incremental"] = round(rate / incremental["rate"], 1)
    result["machine"] = machine
    out = args.out or settings.STATE_DIR / f"backfill-{folder.name}.json"
    report(console, f"backfill, {args.preset} preset", result, out)


if __name__ == "__main__":
    main()
