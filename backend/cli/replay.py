"""`heracles replay`: the early-detection measurement wired to the real stack. Each window's
events go through Celery like any producer's, and each refresh runs on a worker, so what is
measured is what a deployment refreshing every N hours would have flagged, and when."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from backend.cli.common import producer
from backend.cli.views import ReplayProgress, print_replay
from backend.core.config import get_settings
from backend.evaluation.labels import read_labels
from backend.evaluation.replay import (
    ReplayReport,
    early_detection,
    flagged_accounts,
    replay,
    write_report,
)
from backend.evaluation.repository import Membership, read_memberships
from backend.graph.driver import create_driver

REFUSED = 3
REFRESH_TIMEOUT_S = 3600.0


def run_replay(
    console: Console,
    paths: list[Path],
    labels_path: Path,
    every_hours: float,
    json_out: Path | None = None,
    work_dir: Path | None = None,
) -> ReplayReport:
    import redis

    from backend.detection.tasks import refresh_task
    from backend.ingest.backfill import preflight
    from backend.ingest.files import ingest_files

    settings = get_settings()
    labels = read_labels(labels_path)
    with create_driver(settings) as driver:
        client = redis.Redis.from_url(settings.REDIS_URL)
        found = preflight(driver, settings.NEO4J_DATABASE, client, replace=True)
        if found.data_nodes or found.journal_backlog:
            console.print(
                f"[red]a replay starts from an empty graph[/]: this one holds "
                f"{found.data_nodes:,} nodes of data and {found.journal_backlog} pending batches. "
                "Nothing was changed. Run it on a stack of its own (or `heracles backfill "
                "--replace` an empty file first)."
            )
            raise typer.Exit(REFUSED)

        def apply(path: Path) -> None:
            report = ingest_files([path], producer(), wait=True)
            if report.stats.failed_batches or report.file_errors:
                raise RuntimeError(f"{path}: {len(report.stats.failed_batches)} batches failed")

        def refresh() -> list[Membership]:
            while True:  # a scheduled refresh holding the lock: wait for it, then run ours
                result = refresh_task.delay().get(timeout=REFRESH_TIMEOUT_S)
                if result.get("status") == "done":
                    return read_memberships(driver, settings.NEO4J_DATABASE)
                time.sleep(1.0)

        exchanges, flagged_at, refreshes, events = replay(
            paths, every_hours, apply, refresh, settings.DETECTION_FLAG_THRESHOLD,
            settings.DETECTION_MIN_CONFIDENCE, work_dir, ReplayProgress(console),
        )  # fmt: skip
        final = flagged_accounts(read_memberships(driver, settings.NEO4J_DATABASE),
                                 settings.DETECTION_FLAG_THRESHOLD,
                                 settings.DETECTION_MIN_CONFIDENCE)  # fmt: skip
    report = early_detection(labels, exchanges, flagged_at, final, every_hours, refreshes, events)
    print_replay(report, console)
    if json_out is not None:
        write_report(report, json_out)
        console.print(f"wrote {json_out}")
    return report
