"""Stream `.jsonl` / `.jsonl.gz` files line by line in constant memory, never crashing on bytes.

Each yielded line carries its 1-based line number, so a rejection can name exactly where it
came from. Gzip is detected by its magic bytes, not trusted from the file name.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # an event is a few hundred bytes; a 1 MiB line is not an event
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    text: str | None  # None when the line could not be decoded (see `error`)
    raw: str  # what is kept for the dead-letter store (possibly truncated)
    error: str | None = None


class FileReadError(RuntimeError):
    """The file itself is broken (e.g. a truncated gzip): lines before it were still yielded."""


class _CountingReader:
    """Wraps the raw file so progress can be reported in bytes of the file on disk."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    @property
    def position(self) -> int:
        return self.handle.tell()


def open_stream(path: Path) -> tuple[BinaryIO, _CountingReader]:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    counter = _CountingReader(raw)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), counter  # type: ignore[return-value]
    return raw, counter


def iter_lines(stream: BinaryIO) -> Iterator[Line]:
    number = 0
    while True:
        try:
            chunk = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileReadError(f"unreadable after line {number}: {exc}") from exc
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            size = len(chunk) + _skip_rest_of_line(stream)
            yield Line(
                number, None, _decode_lossy(chunk[:MAX_LINE_BYTES]),
                f"line is {size} bytes, over the {MAX_LINE_BYTES}-byte limit for one event",
            )  # fmt: skip
            continue
        chunk = chunk.rstrip(b"\r\n")
        if not chunk.strip():
            continue  # blank lines are skipped, as the contract says
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Line(number, None, _decode_lossy(chunk), f"not valid UTF-8 at byte {exc.start}")
            continue
        yield Line(number, text, text)


def _skip_rest_of_line(stream: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _decode_lossy(chunk: bytes) -> str:
    return chunk.decode("utf-8", errors="replace")
