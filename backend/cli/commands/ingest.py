"""`heracles ingest|backfill` and `heracles dlq`: events in, and the dead-letter store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from backend.cli.common import console, producer
from backend.core.config import get_settings

app = typer.Typer()
dlq_app = typer.Typer(help="The dead-letter store of rejected events.", no_args_is_help=True)


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help=".jsonl or .jsonl.gz"
    ),
    wait: bool = typer.Option(False, "--wait", help="Return once every batch is committed."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Validate and enqueue events (batches of INGEST_BATCH_SIZE per Celery task)."""
    from backend.cli.views import IngestProgress
    from backend.ingest.files import ingest_files

    report = ingest_files(paths, producer(), wait=wait, observer=IngestProgress(console, progress))
    s = report.stats
    console.print(
        f"{s.accepted} events accepted in {s.batches} batches, {s.rejected} rejected "
        f"(see `heracles dlq list`), {report.seconds:.1f}s"
    )
    if s.not_kept:
        console.print(
            f"[red]{s.not_kept} rejected events were not kept[/]: the dead-letter store is over "
            "HERACLES_INGEST_DLQ_MAX_BYTES (replay or delete what it holds, then send them again)"
        )
    if wait:
        console.print(
            f"committed: {s.applied} applied, {s.duplicates} duplicates skipped; "
            f"{report.events_per_second:,.0f} events/s end to end"
        )
        if s.failed_batches:
            console.print(
                f"[red]{len(s.failed_batches)} batches failed[/]; their events are in the DLQ"
            )
    if report.file_errors or s.failed_batches:
        raise typer.Exit(1)


@app.command("backfill")
def backfill_command(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help=".jsonl or .jsonl.gz"
    ),
    workers: int = typer.Option(0, help="Worker processes (0: one per core)."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace a graph that holds data (API tokens are kept)."
    ),
    work_dir: Path | None = typer.Option(None, help="Where the importer files go."),
    keep_files: bool = typer.Option(False, help="Keep the importer files afterwards."),
    progress: bool = typer.Option(True, help="Show progress."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Load a history into an empty graph with Neo4j's offline importer (stops Neo4j while it
    imports); afterwards `heracles ingest` of overlapping files applies only what is new."""
    from backend.cli.backfill import backfill

    backfill(console, paths, workers or None, replace, work_dir, keep_files, progress, json_out)


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(20, help="How many entries."),
    after: str = typer.Option("-", help="Start after this entry id."),
    raw: bool = typer.Option(False, help="Print each entry's raw text too."),
) -> None:
    """Rejected events, oldest first, with where they came from and why."""
    import redis

    from backend.ingest import dlq

    client = redis.Redis.from_url(get_settings().REDIS_URL)
    entries = dlq.read(client, after, limit)
    table = Table(title=f"dead-letter store: {dlq.size(client)} entries")
    for column in ("entry", "source", "where", "field", "reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        r = entry.rejection
        # Text, not str: event text is data, never Rich markup (a type of "[/]" would crash).
        table.add_row(*(Text(v) for v in (entry.entry_id, r.source, r.location, r.field,
                                           r.reason)))  # fmt: skip
    console.print(table)
    if raw:
        for entry in entries:
            console.print(f"{entry.entry_id}: {entry.rejection.raw[:2000]}", markup=False)


@dlq_app.command("replay")
def dlq_replay(
    wait: bool = typer.Option(True, help="Wait until replayed batches are committed."),
    limit: int = typer.Option(0, help="At most this many entries (0: all)."),
) -> None:
    """Re-validate every entry with the current contract; ingest the valid ones, keep the rest."""
    from backend.ingest.replay import replay_dead_letters

    sender = producer(edge=False)
    result = replay_dead_letters(sender, wait, limit)
    console.print(
        f"replayed {result.replayed} events; {result.still_invalid} are still invalid and stay "
        "in the DLQ"
    )
    if sender.stats.failed_batches:
        raise typer.Exit(1)
