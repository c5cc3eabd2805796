"""`make bench-detect`: a full detection refresh on a seeded graph, each stage timed, peak RSS,
and a networkx Louvain baseline on the same projection (on a slice when the graph is large).

The graph is loaded through the real path (`heracles seed` → `heracles ingest` through Celery)
on the benchmark stack, unless `--skip-ingest` reuses what is there.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import networkx as nx
import numpy as np
from rich.console import Console
from scipy import sparse

from backend.core.config import get_settings
from backend.detection.communities import leiden
from backend.detection.projection import project
from backend.detection.service import export_incidence, refresh
from backend.evaluation.labels import read_labels
from backend.evaluation.metrics import evaluate
from backend.evaluation.repository import read_memberships
from backend.graph.driver import create_driver
from backend.stack import lifecycle
from benchmarks.seeded import load_preset, seed_dir
from benchmarks.seeded import report as report_table
from seed.scenarios import PRESETS

console = Console()


def _slice(matrix: sparse.csr_matrix, nodes: int) -> sparse.csr_matrix:
    """The induced subgraph of the first `nodes` linked accounts."""
    linked = np.flatnonzero(np.diff(matrix.indptr) > 0)[:nodes]
    return matrix[linked][:, linked].tocsr()


def _louvain_vs_leiden(matrix: sparse.csr_matrix, seed: int) -> dict[str, float]:
    upper = sparse.triu(matrix, k=1).tocoo()
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        zip(upper.row.tolist(), upper.col.tolist(), upper.data.tolist(), strict=True)
    )
    start = time.perf_counter()
    louvain = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    louvain_s = time.perf_counter() - start
    start = time.perf_counter()
    labels = leiden(matrix, 1.0, seed)
    leiden_s = time.perf_counter() - start
    return {
        "nodes": int(graph.number_of_nodes()), "edges": int(graph.number_of_edges()),
        "networkx_louvain_s": round(louvain_s, 2), "louvain_communities": len(louvain),
        "igraph_leiden_s": round(leiden_s, 3), "leiden_communities": int(labels.max()) + 1,
        "speedup": round(louvain_s / max(leiden_s, 1e-9), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument(
        "--usage-scale", type=float, default=None,
        help="Exchanges per account relative to the preset's (load a population faster).",
    )  # fmt: skip
    parser.add_argument("--baseline-nodes", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path(".local/bench/detect.json"))
    args = parser.parse_args()
    settings = get_settings()
    lifecycle.up(settings, console)
    labels = seed_dir(settings, args.preset) / "labels.jsonl"
    if not args.skip_ingest:
        load_preset(settings, args.preset, args.seed, console, args.usage_scale)
    with create_driver(settings) as driver:
        report = refresh(driver, settings)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ev = evaluate(
            read_labels(labels), read_memberships(driver, settings.NEO4J_DATABASE),
            settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE,
        )  # fmt: skip
        inc, _ = export_incidence(driver, settings)
    matrix = project(
        inc, settings.DETECTION_KIND_WEIGHTS, settings.DETECTION_LINK_CAP,
        settings.DETECTION_EXACT_MAX, settings.DETECTION_SAMPLE_ROUNDS, settings.DETECTION_SEED,
    )  # fmt: skip
    baseline = _louvain_vs_leiden(_slice(matrix, args.baseline_nodes), settings.DETECTION_SEED)
    result = {
        "preset": args.preset, "usage_scale": args.usage_scale,
        "accounts": report.accounts, "edges": report.edges,
        "clusters": report.clusters, "seconds": report.seconds,
        "total_s": round(sum(report.seconds.values()), 2), "peak_rss_mib": round(peak_mib),
        "precision": round(ev.precision, 4), "recall": round(ev.recall, 4),
        "genuine_flagged": ev.genuine_flagged,
        "campaign_recall": {c.campaign: round(c.recall, 4) for c in ev.campaigns},
        "baseline": baseline,
    }  # fmt: skip
    report_table(console, f"bench-detect ({args.preset})", result, args.out)


if __name__ == "__main__":
    main()
