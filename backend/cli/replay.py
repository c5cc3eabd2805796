"""`heracles replay`: the early-detection measurement wired to the real stack. Each window's
events go through Celery like any producer's, each refresh runs on a worker, and what counts
as flagged is what ban tooling would have received then (`banCandidates`), so what is
measured is what a deployment refreshing every N hours would have acted on, and when.

`--confirm` adds an analyst: after each refresh, every cluster whose ban candidates are nine
in ten labelled fake and that has no verdict yet is confirmed as fraud through the same
service the `setClusterVerdict` mutation calls (audited, on the change feed). That is what
regrowth is measured against: an operator returning on a confirmed network's infrastructure.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import typer
from rich.console import Console

from backend.cli.common import producer
from backend.cli.views import ReplayProgress, print_replay
from backend.core.config import Settings, get_settings
from backend.evaluation.labels import read_labels
from backend.evaluation.replay import ReplayReport, early_detection, replay, write_report
from backend.graph.driver import create_driver

REFUSED = 3
REFRESH_TIMEOUT_S = 3600.0
# The analyst confirms a cluster when at least this share of its ban candidates are fakes
# (labels): a reviewer who sees a network's members, not a threshold tuned on anything.
CONFIRM_PURITY = 0.9


def _confirm(settings: Settings, clusters: list[str]) -> None:
    from backend.auth.roles import Role
    from backend.auth.tokens import Principal
    from backend.graph.driver import create_async_driver
    from backend.graph.model import Verdict
    from backend.review.service import TargetKind, set_verdict

    analyst = Principal("replay", "replay-analyst", Role.ANALYST)

    async def run() -> None:
        driver = create_async_driver(settings)
        try:
            for cluster in clusters:
                await set_verdict(driver, settings.NEO4J_DATABASE, analyst, TargetKind.CLUSTER,
                                  cluster, Verdict.CONFIRMED_FRAUD,
                                  "replay: confirmed by the labels")  # fmt: skip
        finally:
            await driver.close()

    asyncio.run(run())


def run_replay(
    console: Console,
    paths: list[Path],
    labels_path: Path,
    every_hours: float,
    json_out: Path | None = None,
    confirm: bool = False,
    work_dir: Path | None = None,
) -> ReplayReport:
    import redis

    from backend.bans.repository import iter_candidates
    from backend.detection.tasks import refresh_task
    from backend.ingest.backfill import preflight
    from backend.ingest.files import ingest_files

    settings = get_settings()
    labels = read_labels(labels_path)
    database = settings.NEO4J_DATABASE
    with create_driver(settings) as driver:
        client = redis.Redis.from_url(settings.REDIS_URL)
        found = preflight(driver, database, client, replace=True)
        if found.data_nodes or found.journal_backlog:
            console.print(
                f"[red]a replay starts from an empty graph[/]: this one holds "
                f"{found.data_nodes:,} nodes of data and {found.journal_backlog} pending batches. "
                "Nothing was changed. Run it on a stack of its own."
            )
            raise typer.Exit(REFUSED)

        def apply(path: Path) -> None:
            report = ingest_files([path], producer(), wait=True)
            if report.stats.failed_batches or report.file_errors:
                raise RuntimeError(f"{path}: {len(report.stats.failed_batches)} batches failed")

        def flagged() -> set[str]:
            candidates = list(iter_candidates(
                driver, database, settings.DETECTION_FLAG_THRESHOLD,
                settings.DETECTION_MIN_CONFIDENCE, settings.DETECTION_CONFIRMED_MIN_CONFIDENCE,
            ))  # fmt: skip
            if confirm:
                per_cluster: dict[str, list[bool]] = defaultdict(list)
                for c in candidates:
                    if c["cluster_verdict"] is None:
                        per_cluster[c["cluster_id"]].append(labels.get(c["account_id"]) is not None)
                chosen = [k for k, fakes in per_cluster.items()
                          if sum(fakes) >= CONFIRM_PURITY * len(fakes)]  # fmt: skip
                if chosen:
                    _confirm(settings, chosen)
            return {c["account_id"] for c in candidates}

        def refresh() -> set[str]:
            while True:  # a scheduled refresh holding the lock: wait for it, then run ours
                result = refresh_task.delay().get(timeout=REFRESH_TIMEOUT_S)
                if result.get("status") == "done":
                    return flagged()
                time.sleep(1.0)

        exchanges, flagged_at, refreshes, events = replay(
            paths, every_hours, apply, refresh, work_dir, ReplayProgress(console)
        )
        final = flagged()
    report = early_detection(labels, exchanges, flagged_at, final, every_hours, refreshes, events)
    print_replay(report, console)
    if json_out is not None:
        write_report(report, json_out)
        console.print(f"wrote {json_out}")
    return report
