"""`make bench-api`: GraphQL latency under load, on loopback, against a seeded and refreshed graph.

Named operations from graphql/operations/, through the real API process (uvicorn) with a real
token, each at a fixed arrival rate (open loop: latency counts from the moment a request was due,
so a stalled server cannot hide its queue):
- `AccountSummary` (the account query: who, how active, which cluster) at 300 requests/s;
- `AccountInvestigation` (behaviour, every identifier with its degree, models, cluster, notes);
- `ClusterReview` with a 100-member page (members with their accounts).

The graph is loaded through the real path (`heracles seed` → `heracles ingest` through Celery →
refresh) on the benchmark stack unless `--skip-ingest` reuses what is there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import uvloop
from rich.console import Console

from backend.api.graphql.operations import named_operations
from backend.auth.roles import Role
from backend.auth.tokens import create_token
from backend.core.config import get_settings
from backend.detection.service import refresh
from backend.graph.driver import create_driver
from backend.stack import lifecycle
from benchmarks.seeded import load_preset, report
from seed.scenarios import PRESETS

console = Console()


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


async def _open_loop(
    url: str, token: str, bodies: list[dict[str, Any]], rate: float, seconds: float
) -> dict[str, Any]:
    """Sends `rate` requests/s for `seconds`, each due at start + i/rate; latency is measured
    from that due time to the full response, so a queue in front of the server counts."""
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    payloads = [json.dumps(b).encode() for b in bodies]
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    total = int(rate * seconds)
    latencies = np.zeros(total)
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status, body = await connection.post(head, payloads[i % len(payloads)])
        finally:
            pool.put_nowait(connection)
        latencies[i] = time.perf_counter() - due
        if status != 200 or b'"errors"' in body:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().writer.close()
    ms = latencies * 1000
    return {
        "requests": total, "errors": errors, "offered_rps": rate,
        "achieved_rps": round(total / elapsed, 1), "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2),
    }  # fmt: skip


def _sample(driver: Any, database: str, query: str, n: int, **params: Any) -> list[str]:
    records, _, _ = driver.execute_query(query, params, database_=database)
    ids = [r["id"] for r in records]
    random.Random(7).shuffle(ids)
    return ids[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--investigation-rate", type=float, default=100.0)
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
            driver, db, "MATCH (c:Cluster {status: 'active'}) WHERE c.size >= 100 "
            "RETURN c.id AS id", 200,
        )  # fmt: skip
        n_accounts = driver.execute_query("MATCH (a:Account) RETURN count(a) AS n", database_=db)
    documents = named_operations()

    def account_bodies(operation: str) -> list[dict[str, Any]]:
        return [
            {"query": documents[operation], "operationName": operation, "variables": {"id": a}}
            for a in accounts
        ]

    cluster_bodies = [
        {"query": documents["ClusterReview"], "operationName": "ClusterReview",
         "variables": {"id": c, "first": 100}}
        for c in clusters
    ]  # fmt: skip
    url = settings.api_url

    def run(bodies: list[dict[str, Any]], rate: float, seconds: float) -> dict[str, Any]:
        return uvloop.run(_open_loop(url, token, bodies, rate, seconds))

    summary = account_bodies("AccountSummary")
    run(summary[::-1], args.rate, 5)  # warm the page cache and the server
    result = {
        "preset": args.preset, "accounts_in_graph": n_accounts[0][0]["n"],
        "api_workers": settings.API_WORKERS,
        "account_summary": run(summary, args.rate, args.seconds),
        "account_investigation": run(
            account_bodies("AccountInvestigation"), args.investigation_rate, args.seconds
        ),
        "cluster_review_100_members": (
            run(cluster_bodies, args.cluster_rate, args.seconds) if cluster_bodies else {}
        ),
        "clusters_sampled": len(clusters),
        "targets": {"account_p95_ms": 20, "account_rps": 300, "cluster_page_p95_ms": 100},
    }  # fmt: skip
    report(console, f"bench-api ({args.preset})", result, args.out)


if __name__ == "__main__":
    main()
