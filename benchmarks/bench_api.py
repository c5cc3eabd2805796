"""`make bench-api`: how much of the machine's API capacity Heracles keeps, measured side by side.

Absolute latencies on shared 2-core machines drift from run to run, so every figure here is
taken in one run, on the same cores, next to two baselines:
- **bare**: FastAPI + strawberry answering a constant through the API's own middleware
  (`benchmarks/bare_api.py`), served the same way with as many workers: the framework's
  ceiling;
- **driver**: `AccountSummary`'s Cypher read through the async driver alone (as many
  client processes as the API has workers, the same `read_rows()` helper): Neo4j's ceiling;
- **heracles**: the named operation `AccountSummary` through the real API with a real token.

Each is first driven to **saturation** (a closed loop: `--concurrency` requests always in
flight; throughput = completions per second), then offered fixed fractions of its own
saturation rate in an **open loop** (each request due at start + i/rate; latency counts from
that due time, so a queue in front of a stalled server cannot hide). `ClusterReview` with a
100-member page runs at 20/s alongside `AccountSummary` at half its saturation, and
`AccountInvestigation` is measured the same way on its own. The machine's steal, busy share and
each process tree's CPU are recorded for every run (`benchmarks/machine.py`).

The graph is loaded through the real path (`heracles seed` → `heracles ingest` through Celery →
refresh) on the benchmark stack unless `--skip-ingest` reuses what is there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import uvloop
from neo4j.exceptions import DriverError, Neo4jError
from rich.console import Console
from rich.table import Table

from backend.api.graphql.operations import named_operations
from backend.auth.roles import Role
from backend.auth.tokens import create_token
from backend.core.config import get_settings
from backend.detection.service import refresh
from backend.graph.driver import create_async_driver, create_driver
from backend.investigation.repository import ACCOUNTS_BY_ID, Reads, read_rows
from benchmarks import machine
from benchmarks.seeded import load_preset
from devstack import lifecycle
from devstack.services import supervisor_for
from seed.scenarios import PRESETS

console = Console(width=200)
FRACTIONS = (0.25, 0.5, 0.75)
Call = Callable[[int], Awaitable[bool]]  # request number -> ok


class _Connection:
    """A bare keep-alive HTTP/1.1 connection: the load generator shares the 2 cores with the
    server and Neo4j, so it must cost far less per request than the server (httpx costs about
    as much as the API itself)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def _http_caller(url: str, token: str, bodies: list[dict[str, Any]], pool_size: int) -> Call:
    """A `Call` posting bodies round-robin over `pool_size` keep-alive connections."""
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    payloads = [json.dumps(b).encode() for b in bodies]
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(pool_size):
        pool.put_nowait(_Connection(*await asyncio.open_connection(host, port)))

    async def call(i: int) -> bool:
        connection = await pool.get()
        try:
            status, body = await connection.post(head, payloads[i % len(payloads)])
        finally:
            pool.put_nowait(connection)
        return status == 200 and b'"errors"' not in body

    return call


@dataclass
class Sample:
    """One run's raw figures: latency per request (seconds), errors, wall time, offered rate."""

    latencies: Any
    errors: int
    elapsed: float
    offered: float | None = None
    client_cpu_s: float = 0.0  # CPU of client processes other than this one (driver target)

    def summary(self) -> dict[str, Any]:
        ms = np.asarray(self.latencies) * 1000
        out = {
            "requests": int(ms.size), "errors": self.errors,
            "achieved_rps": round(ms.size / self.elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
        }  # fmt: skip
        if self.offered is not None:
            out["offered_rps"] = round(self.offered, 1)
        return out

    @staticmethod
    def merge(parts: list[Sample]) -> Sample:
        """Figures from parallel client processes, as if from one client."""
        offered = sum(p.offered or 0.0 for p in parts) or None
        return Sample(
            np.concatenate([p.latencies for p in parts]), sum(p.errors for p in parts),
            max(p.elapsed for p in parts), offered, sum(p.client_cpu_s for p in parts),
        )  # fmt: skip


async def _open_loop(call: Call, rate: float, seconds: float) -> Sample:
    """`rate` requests/s for `seconds`, each due at start + i/rate."""
    total = max(1, int(rate * seconds))
    latencies = np.zeros(total)
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        ok = await call(i)
        latencies[i] = time.perf_counter() - due
        errors += not ok

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return Sample(latencies, errors, time.perf_counter() - start, rate)


async def _closed_loop(call: Call, concurrency: int, seconds: float) -> Sample:
    """`concurrency` requests always in flight for `seconds`: the rate the target sustains."""
    done: list[float] = []
    errors = 0
    counter = iter(range(10**12))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            ok = await call(next(counter))
            done.append(time.perf_counter() - sent)
            errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(np.asarray(done), errors, time.perf_counter() - start)


async def _run(call: Call, mode: str, amount: float, seconds: float) -> Sample:
    if mode == "closed":
        return await _closed_loop(call, int(amount), seconds)
    return await _open_loop(call, amount, seconds)


# --- the driver-alone target: client processes, each with its own async driver -------------


def _driver_client(mode: str, amount: float, seconds: float, ids: list[str]) -> Sample:
    """One client process: `AccountSummary`'s read (the account with its membership) through
    the driver, closed loop (`amount` in flight) or open loop (`amount` requests/s)."""

    async def main() -> Sample:
        settings = get_settings()
        driver = create_async_driver(settings)
        reads = Reads(driver, settings.NEO4J_DATABASE, settings.API_QUERY_TIMEOUT_S)

        async def call(i: int) -> bool:
            key = ids[i % len(ids)]
            try:
                return bool(await read_rows(reads, ACCOUNTS_BY_ID, ids=[key]))
            except (Neo4jError, DriverError):  # an overloaded client: counted, not fatal
                return False

        try:
            await call(0)  # connect before the clock starts
            cpu = os.times()
            sample = await _run(call, mode, amount, seconds)
            now = os.times()
            sample.client_cpu_s = now.user + now.system - cpu.user - cpu.system
            return sample
        finally:
            await driver.close()

    return uvloop.run(main())


def _driver_run(processes: int, mode: str, amount: float, seconds: float, ids: list[str]) -> Sample:
    share = amount / processes if mode == "open" else max(1, round(amount / processes))
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        parts = list(
            pool.map(
                _driver_client, [mode] * processes, [share] * processes,
                [seconds] * processes, [ids[p::processes] for p in range(processes)],
            )
        )  # fmt: skip
    return Sample.merge(parts)


# --- the bare baseline server -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_bare(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.api.serve", "--app", "benchmarks.bare_api:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "HERACLES_LOG_LEVEL": "WARNING"},
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.post(f"{url}/graphql", json={"query": "{ ping }"}).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare baseline API did not start")


# --- the run ------------------------------------------------------------------------------


def _sample(driver: Any, database: str, query: str, n: int) -> list[str]:
    records, _, _ = driver.execute_query(query, database_=database)
    ids = [r["id"] for r in records]
    random.Random(7).shuffle(ids)
    return ids[:n]


def _table(result: dict[str, Any]) -> Table:
    table = Table(title="bench-api: side by side, one run")
    for column in ("target", "load", "achieved/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                   "steal %", "busy %", "server cores", "Neo4j cores", "client cores"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("target", "load") else "right")
    for run in result["runs"]:
        m = run["machine"]
        table.add_row(
            run["target"], run["load"], f"{run['achieved_rps']:.0f}", f"{run['p50_ms']:.1f}",
            f"{run['p95_ms']:.1f}", f"{run['p99_ms']:.1f}", str(run["errors"]),
            f"{m['steal_pct']:.1f}", f"{m['busy_pct']:.0f}",
            f"{m['bare_cores'] if run['target'] == 'bare' else m['api_cores']:.2f}",
            f"{m['neo4j_cores']:.2f}",
            f"{m['load_generator_cores'] + m.get('clients_cores', 0):.2f}",
        )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--seconds", type=float, default=15.0, help="per open-loop run")
    parser.add_argument("--saturation-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32, help="in flight at saturation")
    parser.add_argument("--rounds", type=int, default=3, help="saturation runs per target")
    parser.add_argument("--cluster-rate", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path(".local/bench/api.json"))
    args = parser.parse_args()
    settings = get_settings()
    lifecycle.up(settings, console)
    db = settings.NEO4J_DATABASE
    if not args.skip_ingest:
        load_preset(settings, args.preset, args.seed, console)
    with create_driver(settings) as driver:
        if (
            not args.skip_ingest
            or not driver.execute_query("MATCH (c:Cluster) RETURN c.id LIMIT 1", database_=db)[0]
        ):
            refresh(driver, settings)
        _, token = create_token(driver, db, f"bench-api-{int(time.time())}", Role.ANALYST)
        accounts = _sample(driver, db, "MATCH (a:Account) RETURN a.id AS id", 5000)
        clusters = _sample(
            driver, db,
            "MATCH (c:Cluster {status: 'active'}) WHERE c.size >= 100 RETURN c.id AS id", 200,
        )  # fmt: skip
        n_accounts = driver.execute_query("MATCH (a:Account) RETURN count(a) AS n", database_=db)
    documents = named_operations()

    def bodies(operation: str, **variables: Any) -> list[dict[str, Any]]:
        keys = accounts if operation != "ClusterReview" else clusters
        return [
            {"query": documents[operation], "operationName": operation,
             "variables": {"id": k, **variables}}
            for k in keys
        ]  # fmt: skip

    supervisor = supervisor_for(settings)
    api, neo4j = supervisor.record("api"), supervisor.record("neo4j")
    assert api is not None and neo4j is not None, "the bench stack is not running"
    workers = settings.API_WORKERS
    bare_process, bare_url = _start_bare(workers)
    pids = {"neo4j": neo4j.pid, "api": api.pid, "bare": bare_process.pid}
    runs: list[dict[str, Any]] = []
    before = machine.describe()

    def measured(target: str, load: str, go: Callable[[], Sample]) -> Any:
        window = machine.Window(pids).start()
        sample = go()
        figures = sample.summary()
        m = window.stop()
        m["clients_cores"] = round(sample.client_cpu_s / sample.elapsed, 2)
        runs.append({"target": target, "load": load, **figures, "machine": m})
        console.print(f"  {target:<22} {load:<26} {figures['achieved_rps']:>7.1f}/s  "
                      f"p95 {figures['p95_ms']:.1f} ms  errors {figures['errors']}")  # fmt: skip
        return figures

    def http(url: str, payloads: list[dict[str, Any]], mode: str, amount: float,
             seconds: float) -> Sample:  # fmt: skip
        async def go() -> Sample:
            call = await _http_caller(url, token, payloads, max(args.concurrency, 64))
            return await _run(call, mode, amount, seconds)

        return uvloop.run(go())

    ping = [{"query": "query Ping { ping }", "operationName": "Ping"}]
    summary = bodies("AccountSummary")
    targets: dict[str, Callable[[str, float, float], Sample]] = {
        "bare": lambda mode, amount, s: http(bare_url, ping, mode, amount, s),
        "driver": lambda mode, amount, s: _driver_run(workers, mode, amount, s, accounts),
        "heracles AccountSummary": lambda mode, amount, s: http(
            settings.api_url, summary, mode, amount, s
        ),
        "heracles AccountInvestigation": lambda mode, amount, s: http(
            settings.api_url, bodies("AccountInvestigation"), mode, amount, s
        ),
    }
    saturation: dict[str, float] = {}
    rounds: dict[str, list[float]] = {name: [] for name in targets}
    try:
        http(settings.api_url, summary[::-1], "open", 100, 5)  # warm the page cache and caches
        for run in targets.values():
            run("closed", args.concurrency, 2)  # warm-up
        reviews = bodies("ClusterReview", first=100)
        if clusters:  # each worker's caches and Neo4j's plans for the review's reads, untimed
            http(settings.api_url, reviews, "open", args.cluster_rate, 5)
        # Saturation is noisy on a shared box: the targets take turns, `--rounds` times, and
        # each one's median is the rate its fractions below are offered at.
        for r in range(args.rounds):
            for name, run in targets.items():
                sat = measured(
                    name, f"saturation, round {r + 1} ({args.concurrency} in flight)",
                    partial(run, "closed", args.concurrency, args.saturation_seconds),
                )  # fmt: skip
                rounds[name].append(sat["achieved_rps"])
        saturation = {name: float(np.median(v)) for name, v in rounds.items()}
        for name, run in targets.items():
            for fraction in FRACTIONS:
                measured(
                    name, f"{fraction:.2f} x saturation",
                    partial(run, "open", fraction * saturation[name], args.seconds),
                )  # fmt: skip
        if clusters:
            measured(
                "heracles ClusterReview (100)", f"{args.cluster_rate:g}/s alone",
                partial(http, settings.api_url, reviews, "open", args.cluster_rate, args.seconds),
            )  # fmt: skip
            for fraction in (0.5, 0.25):
                rate = fraction * saturation["heracles AccountSummary"]

                async def alongside(rate: float = rate) -> dict[str, Sample]:
                    call_s = await _http_caller(settings.api_url, token, summary, 64)
                    call_c = await _http_caller(settings.api_url, token, reviews, 16)
                    s, c = await asyncio.gather(
                        _open_loop(call_s, rate, args.seconds),
                        _open_loop(call_c, args.cluster_rate, args.seconds),
                    )
                    return {"summary": s, "cluster": c}

                window = machine.Window(pids).start()
                both = uvloop.run(alongside())
                m = window.stop()
                load = f"{fraction:.2f} x sat. + ClusterReview {args.cluster_rate:g}/s"
                for target, sample in (("heracles AccountSummary", both["summary"]),
                                       ("heracles ClusterReview (100)", both["cluster"])):  # fmt: skip
                    runs.append({"target": target, "load": load, **sample.summary(), "machine": m})
                console.print(f"  alongside at {load}: AccountSummary p95 "
                              f"{both['summary'].summary()['p95_ms']} ms, ClusterReview p95 "
                              f"{both['cluster'].summary()['p95_ms']} ms")  # fmt: skip
    finally:
        bare_process.terminate()
        bare_process.wait(10)

    def at(target: str, load: str) -> dict[str, Any]:
        return next(r for r in runs if r["target"] == target and r["load"].startswith(load))

    heracles, bare, drv = (
        saturation["heracles AccountSummary"],
        saturation["bare"],
        saturation["driver"],
    )
    alongside_half = [r for r in runs if r["target"].startswith("heracles ClusterReview")
                      and r["load"].startswith("0.50 x sat.")]  # fmt: skip
    result = {
        "preset": args.preset, "accounts_in_graph": n_accounts[0][0]["n"],
        "api_workers": workers, "machine_before": before, "concurrency": args.concurrency,
        "saturation_rps": saturation, "saturation_rounds": rounds,
        "ratios": {
            "heracles_over_bare": round(heracles / bare, 3),
            "heracles_over_driver": round(heracles / drv, 3),
            "driver_over_bare": round(drv / bare, 3),
        },
        "targets": {
            "heracles_over_bare >= 0.5": heracles / bare >= 0.5,
            "AccountSummary p95 <= 20 ms at 0.5 x saturation":
                at("heracles AccountSummary", "0.50")["p95_ms"] <= 20,
            "ClusterReview p95 <= 100 ms at 20/s alongside 0.5 x saturation":
                bool(alongside_half) and alongside_half[0]["p95_ms"] <= 100,
        },
        "runs": runs,
    }  # fmt: skip
    console.print(_table(result))
    console.print(json.dumps({k: result[k] for k in ("saturation_rps", "ratios", "targets")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
