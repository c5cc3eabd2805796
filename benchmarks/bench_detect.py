"""`make bench-detect`: a full detection refresh on a seeded graph, each stage timed, peak RSS,
and a networkx Louvain baseline on the same projection (on a slice when the graph is large).

The graph is loaded through the real path (`heracles seed` → `heracles ingest` through Celery)
on the benchmark stack, unless `--skip-ingest` reuses what is there.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import redis
from rich.console import Console
from scipy import sparse

from backend.core.config import get_settings
from backend.detection.communities import leiden
from backend.detection.projection import project
from backend.detection.reads import export_incidence
from backend.detection.service import refresh
from backend.detection.tasks import LOCK_KEY
from backend.evaluation.labels import read_labels
from backend.evaluation.metrics import evaluate
from backend.evaluation.repository import read_memberships
from backend.graph.driver import create_driver
from benchmarks.seeded import load_preset, seed_dir
from benchmarks.seeded import report as report_table
from devstack import lifecycle
from seed.scenarios import PRESETS

console = Console()


def _slice(matrix: sparse.csr_matrix, nodes: int) -> sparse.csr_matrix:
    """The induced subgraph of the first `nodes` linked accounts."""
    linked = np.flatnonzero(np.diff(matrix.indptr) > 0)[:nodes]
    return matrix[linked][:, linked].tocsr()


def _louvain(edges: tuple[list[int], list[int], list[float]], seed: int, out: Any) -> None:
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(*edges, strict=True))
    start = time.perf_counter()
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    out.put((time.perf_counter() - start, len(communities)))


def _louvain_vs_leiden(
    matrix: sparse.csr_matrix, seed: int, limit_s: float
) -> dict[str, float | str]:
    """networkx Louvain in a child process with a time limit (it can take very long). Spawned,
    not forked: a fork of this process (driver and pool threads) can deadlock in the child."""
    upper = sparse.triu(matrix, k=1).tocoo()
    # Integer weights (micro-units): networkx 3.6's Louvain can loop forever on round-off ties
    # between float gains (networkx issue 8739, fixed after 3.6.1); exact sums avoid them.
    micro = np.maximum(1, np.rint(upper.data * 1e6)).astype(np.int64)
    edges = (upper.row.tolist(), upper.col.tolist(), micro.tolist())
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    child = ctx.Process(target=_louvain, args=(edges, seed, out))
    child.start()
    child.join(limit_s)
    if child.is_alive():
        child.terminate()
        louvain_s, louvain_n = None, None
    else:
        louvain_s, louvain_n = out.get()
    start = time.perf_counter()
    labels = leiden(matrix, 1.0, seed)
    leiden_s = time.perf_counter() - start
    result: dict[str, float | str] = {
        "nodes": int(np.count_nonzero(np.diff(matrix.indptr))), "edges": int(upper.nnz),
        "igraph_leiden_s": round(leiden_s, 3), "leiden_communities": int(labels.max()) + 1,
    }  # fmt: skip
    if louvain_s is None:
        result["networkx_louvain_s"] = f"not finished in {limit_s:.0f} s"
        result["speedup"] = f"> {limit_s / max(leiden_s, 1e-9):.0f}"
    else:
        result["networkx_louvain_s"] = round(louvain_s, 2)
        result["louvain_communities"] = int(louvain_n or 0)
        result["speedup"] = round(louvain_s / max(leiden_s, 1e-9), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument(
        "--usage-scale", type=float, default=None,
        help="Exchanges per account relative to the preset's (load a population faster).",
    )  # fmt: skip
    parser.add_argument(
        "--refreshes", type=int, default=1,
        help="Refresh this many times in a row: the first is cold, the others warm.",
    )  # fmt: skip
    parser.add_argument("--baseline-nodes", type=int, default=20_000)
    parser.add_argument("--baseline-limit-s", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=Path(".local/bench/detect.json"))
    args = parser.parse_args()
    settings = get_settings()
    lifecycle.up(settings, console)
    labels = seed_dir(settings, args.preset, args.usage_scale) / "labels.jsonl"
    if not args.skip_ingest:
        load_preset(settings, args.preset, args.seed, console, args.usage_scale)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with create_driver(settings) as driver:
        runs = []
        for _ in range(max(args.refreshes, 1)):
            # The worker's lock: wait out a refresh it is running (e.g. one redelivered after
            # a restart) instead of racing it. With the touched marks, as the worker refreshes:
            # the graph read whole from Neo4j or kept (`service.whole_graph`; `source`).
            with client.lock(LOCK_KEY, timeout=settings.DETECTION_LOCK_TTL_S):
                report = refresh(driver, settings, client)
            runs.append({
                "source": report.source, "seconds": report.seconds, "total_s": round(sum(report.seconds.values()), 2),
                "memberships_written": report.memberships_written,
                "memberships_ended": report.memberships_ended,
                # Where the export, scores and write-back stages' time went, by part.
                "parts": {stage: {k: round(v, 2) for k, v in part.items()}
                          for stage, part in report.parts.items()},
            })  # fmt: skip
            console.print(runs[-1])
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ev = evaluate(
            read_labels(labels), read_memberships(driver, settings.NEO4J_DATABASE),
            settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE,
        )  # fmt: skip
        inc = export_incidence(driver, settings).incidence
    matrix = project(
        inc, settings.DETECTION_KIND_WEIGHTS, settings.DETECTION_LINK_CAP,
        settings.DETECTION_EXACT_MAX, settings.DETECTION_SAMPLE_ROUNDS, settings.DETECTION_SEED,
    )  # fmt: skip
    baseline = _louvain_vs_leiden(
        _slice(matrix, args.baseline_nodes), settings.DETECTION_SEED, args.baseline_limit_s
    )
    result = {
        "preset": args.preset, "usage_scale": args.usage_scale,
        "accounts": report.accounts, "edges": report.edges,
        "clusters": report.clusters, "seconds": report.seconds,
        "total_s": round(sum(report.seconds.values()), 2), "peak_rss_mib": round(peak_mib),
        "members": report.members, "refreshes": runs,
        "precision": round(ev.precision, 4), "recall": round(ev.recall, 4),
        "genuine_flagged": ev.genuine_flagged,
        "campaign_recall": {c.campaign: round(c.recall, 4) for c in ev.campaigns},
        "baseline": baseline,
    }  # fmt: skip
    report_table(console, f"bench-detect ({args.preset})", result, args.out)


if __name__ == "__main__":
    main()
