"""`heracles ingest PATH...`: stream files through a `Producer`, telling an observer how it goes
(the CLI draws it as a progress bar; tests and benchmarks stay silent)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from backend.events.reader import FileReadError, iter_lines, open_stream
from backend.events.validation import Rejection
from backend.ingest.producer import Producer, ProducerStats

PROGRESS_EVERY_LINES = 2048


@dataclass
class IngestReport:
    stats: ProducerStats
    seconds: float
    file_errors: list[str]

    @property
    def events_per_second(self) -> float:
        return self.stats.accepted / self.seconds if self.seconds else 0.0


class IngestObserver(Protocol):
    """What a caller may show while files go in; every call is cheap and may do nothing."""

    def started(self, total_bytes: int) -> None: ...
    def advanced(self, done_bytes: int, stats: ProducerStats) -> None: ...
    def rejected(self, rejection: Rejection) -> None: ...
    def file_failed(self, path: Path, error: str) -> None: ...
    def committing(self) -> None: ...
    def finished(self, stats: ProducerStats) -> None: ...


class Silent:
    """Shows nothing (tests, benchmarks, the chaos run)."""

    def started(self, total_bytes: int) -> None:
        pass

    def advanced(self, done_bytes: int, stats: ProducerStats) -> None:
        pass

    def rejected(self, rejection: Rejection) -> None:
        pass

    def file_failed(self, path: Path, error: str) -> None:
        pass

    def committing(self) -> None:
        pass

    def finished(self, stats: ProducerStats) -> None:
        pass


def ingest_files(
    paths: Sequence[Path],
    producer: Producer,
    wait: bool,
    observer: IngestObserver | None = None,
) -> IngestReport:
    """Every line of every file to the producer (a file that cannot be read past some line is
    reported, the lines before it kept); with `wait`, returns once the graph holds them."""
    seen = observer or Silent()
    started = time.perf_counter()
    file_errors: list[str] = []
    seen.started(sum(path.stat().st_size for path in paths))
    try:
        done_bytes = 0
        for path in paths:
            stream, counter = open_stream(path)
            source = str(path)
            try:
                with stream:
                    for line in iter_lines(stream):
                        rejection: Rejection | None
                        if line.text is None:
                            rejection = Rejection(
                                source, f"line {line.number}", "", line.error or "unreadable",
                                line.raw,
                            )  # fmt: skip
                            producer.reject(rejection)
                        else:
                            rejection = producer.add(line.text, source, f"line {line.number}")
                        if rejection is not None:
                            seen.rejected(rejection)
                        if line.number % PROGRESS_EVERY_LINES == 0:
                            seen.advanced(done_bytes + counter.position, producer.stats)
            except FileReadError as exc:
                file_errors.append(f"{path}: {exc}")
                seen.file_failed(path, str(exc))
            done_bytes += path.stat().st_size
            seen.advanced(done_bytes, producer.stats)
        producer.flush()
        if wait:
            seen.committing()
            producer.wait()
    finally:
        seen.finished(producer.stats)
    return IngestReport(producer.stats, time.perf_counter() - started, file_errors)
