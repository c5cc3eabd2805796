"""`heracles ingest PATH...`: stream files through a `Producer`, with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from backend.events.reader import FileReadError, iter_lines, open_stream
from backend.events.validation import Rejection
from backend.ingest.producer import Producer, ProducerStats

MAX_PRINTED_REJECTIONS = 20


@dataclass
class IngestReport:
    stats: ProducerStats
    seconds: float
    file_errors: list[str]

    @property
    def events_per_second(self) -> float:
        return self.stats.accepted / self.seconds if self.seconds else 0.0


def ingest_files(
    paths: Sequence[Path],
    producer: Producer,
    console: Console,
    wait: bool,
    show_progress: bool = True,
) -> IngestReport:
    started = time.perf_counter()
    file_errors: list[str] = []
    printed = 0
    total = sum(path.stat().st_size for path in paths)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
        console=console, disable=not show_progress, transient=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("ingest", total=total, counts="")
        done_bytes = 0
        for path in paths:
            stream, counter = open_stream(path)
            source = str(path)
            try:
                with stream:
                    for line in iter_lines(stream):
                        location = f"line {line.number}"
                        rejection: Rejection | None
                        if line.text is None:
                            rejection = Rejection(
                                source, location, "", line.error or "unreadable", line.raw
                            )
                            producer.reject(rejection)
                        else:
                            rejection = producer.add(line.text, source, location)
                        if rejection is not None and printed < MAX_PRINTED_REJECTIONS:
                            console.print(f"[yellow]rejected[/] {escape(rejection.describe())}")
                            printed += 1
                        if line.number % 2048 == 0:
                            s = producer.stats
                            progress.update(
                                task, completed=done_bytes + counter.position,
                                counts=f"{s.accepted} accepted, {s.rejected} rejected",
                            )  # fmt: skip
            except FileReadError as exc:
                file_errors.append(f"{path}: {exc}")
                console.print(
                    f"[red]{escape(f'{path}: {exc}')}[/] (the lines before it were ingested)"
                )
            done_bytes += path.stat().st_size
            progress.update(task, completed=done_bytes)
        producer.flush()
        if wait:
            progress.update(task, description="committing")
            producer.wait()
        s = producer.stats
        progress.update(task, counts=f"{s.accepted} accepted, {s.rejected} rejected")
    return IngestReport(producer.stats, time.perf_counter() - started, file_errors)
