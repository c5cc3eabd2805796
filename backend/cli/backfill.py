"""`heracles backfill FILE...`: a platform's history into an empty graph, minutes not hours."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from backend.core.config import get_settings

REFUSED = 3  # the exit code when the graph already holds data (`make demo` then ingests)
IMPORTER_STAGES = ("Import starting", "(1/4)", "(2/4)", "(3/4)", "(4/4)", "IMPORT DONE")


def backfill(
    console: Console,
    paths: list[Path],
    workers: int | None,
    replace: bool,
    work_dir: Path | None,
    keep_files: bool,
    show_progress: bool,
    json_out: Path | None = None,
) -> None:
    import redis

    from backend.graph.driver import create_driver
    from backend.ingest import backfill as service
    from backend.ingest import import_files
    from backend.ingest.bulk import FoldStats, fold_files
    from devstack.offline_import import IncompleteImport, NotOurNeo4j, replace_store
    from devstack.scratch_redis import scratch_redis

    settings = get_settings()
    started = time.perf_counter()
    workers = workers or max(1, os.cpu_count() or 1)
    work = work_dir or settings.STATE_DIR / "backfill"
    client = redis.Redis.from_url(settings.REDIS_URL)
    database = settings.NEO4J_DATABASE
    with create_driver(settings) as driver:
        try:
            before = service.preflight(driver, database, client, replace)
        except service.NotEmpty as exc:
            console.print(f"[red]backfill refused:[/] {escape(str(exc))}")
            raise typer.Exit(REFUSED) from exc
    if replace and before.data_nodes:
        console.print(f"replacing a graph of {before.data_nodes:,} data nodes")

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
        console=console, disable=not show_progress,
    ) as progress:  # fmt: skip
        task = progress.add_task("fold", total=None, counts="")

        def report(stage: str, s: FoldStats) -> None:
            rate = s.lines / max(time.perf_counter() - started, 1e-9)
            progress.update(
                task, description=stage, total=s.bytes_total, completed=s.bytes_read,
                counts=f"{s.lines:,} lines, {s.accepted:,} events, {s.duplicates:,} repeats, "
                f"{s.rejected:,} rejected, {rate:,.0f} lines/s",
            )  # fmt: skip

        with scratch_redis() as claims_url:
            stats = fold_files(
                paths, work, client, claims_url or settings.REDIS_URL,
                settings.INGEST_DEDUPE_TTL_S, workers, settings.INGEST_DLQ_MAX_BYTES, report,
            )  # fmt: skip
        for error in stats.file_errors:
            console.print(f"[red]{escape(error)}[/] (the lines before it were loaded)")

        def importer_line(line: str) -> None:
            if any(stage in line for stage in IMPORTER_STAGES):
                progress.update(task, description=f"import: {line.strip()[:60]}")

        arguments = import_files.importer_arguments(work / "csv", stats.multiline)
        done: dict[str, float] = {}  # the completion's steps, timed

        def complete() -> None:
            """The imported graph made whole before anything can ingest into it again."""
            stage = time.perf_counter()
            progress.update(task, description="schema, tokens, checkpoint")
            if replace:
                service.forget_ingest_state(client)
            position = service.journal_position(client)
            with create_driver(settings) as driver:
                done["packed"] = service.finish(
                    driver, database, before.tokens, position, stats.accepted
                )
            done["finish_s"] = time.perf_counter() - stage
            stage = time.perf_counter()
            progress.update(task, description="claims handed to ingest")
            done["buckets"] = service.promote_claims(client, settings.INGEST_DEDUPE_TTL_S)
            done["claims_s"] = time.perf_counter() - stage

        stage = time.perf_counter()
        try:
            import_s = replace_store(settings, arguments, importer_line, work / "import.log",
                                     complete)  # fmt: skip
        except NotOurNeo4j as exc:
            console.print(f"[red]backfill stopped:[/] {escape(str(exc))}")
            console.print(f"the importer files are kept in {work / 'csv'}")
            raise typer.Exit(1) from exc
        except IncompleteImport as exc:
            console.print(
                f"[red]backfill stopped after the import:[/] {escape(repr(exc.__cause__))}. "
                f"The graph is imported but not complete, and ingest does not yet know its "
                f"event ids, so the {', '.join(exc.stopped) or 'stack'} stay stopped (nothing "
                "can be ingested twice onto it). Run this backfill again with --replace, then "
                "`heracles up`."
            )
            raise typer.Exit(1) from exc
        finish_s, claims_s = done["finish_s"], done["claims_s"]
        packed, buckets = int(done["packed"]), int(done["buckets"])
        restart_s = time.perf_counter() - stage - import_s - finish_s - claims_s
    if not keep_files:
        shutil.rmtree(work / "csv", ignore_errors=True)
    total = time.perf_counter() - started
    copied = [(f"staging claims to the stack's Redis ({stats.staged_buckets:,} buckets)",
               f"{stats.copy_s:.1f}s")] if stats.copy_s else []  # fmt: skip
    table = Table(title="backfill")
    table.add_column("")
    table.add_column("", justify="right")
    for name, value in (
        ("lines read", f"{stats.lines:,}"),
        ("events loaded", f"{stats.accepted:,}"),
        ("repeated event ids skipped", f"{stats.duplicates:,}"),
        ("rejected (see `heracles dlq list`)", f"{stats.rejected:,}"),
        ("fold (validate, fold, spill)", f"{stats.fold_s:.1f}s"),
        *copied,
        (f"reduce ({stats.parts} parts → importer files)", f"{stats.reduce_s:.1f}s"),
        ("neo4j-admin import", f"{import_s:.1f}s"),
        ("stopping and starting the stack around it", f"{restart_s:.1f}s"),
        ("schema, tokens, checkpoint", f"{finish_s:.1f}s"),
        *([("  detection inputs packed then (accounts)", f"{packed:,}")] if packed else []),
        (f"claims handed to ingest ({buckets:,} buckets)", f"{claims_s:.1f}s"),
        ("total", f"{total:.1f}s, {stats.accepted / total:,.0f} events/s"),
        *((f"  {name}", f"{n:,}") for name, n in sorted(stats.rows.items())),
    ):
        table.add_row(name, value)
    console.print(table)
    if json_out is not None:
        summary = {
            "lines": stats.lines, "events": stats.accepted, "duplicates": stats.duplicates,
            "rejected": stats.rejected, "fold_s": round(stats.fold_s, 1),
            "claims_copy_s": round(stats.copy_s, 1),
            "reduce_s": round(stats.reduce_s, 1), "import_s": round(import_s, 1),
            "restart_s": round(restart_s, 1), "finish_s": round(finish_s, 1),
            "claims_s": round(claims_s, 1), "inputs_packed_after_import": packed,
            "total_s": round(total, 1), "events_per_s": round(stats.accepted / total),
            "parts": stats.parts, "workers": workers, "rows": stats.rows,
        }  # fmt: skip
        json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if stats.not_kept:
        console.print(
            f"[red]{stats.not_kept} rejected events were not kept[/]: the dead-letter store is "
            "over HERACLES_INGEST_DLQ_MAX_BYTES"
        )
    if stats.file_errors:
        raise typer.Exit(1)
