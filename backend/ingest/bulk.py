"""Fold event files into importer files in parallel, in memory bounded by the part size.

Two stages, each spread over worker processes:

1. **Fold.** The reading process cuts the files into chunks of lines; a worker takes a chunk's
   plain usage, session and billing lines column-wise (`columnar.accept`, a subset of the
   contract decoded as types) and validates the rest (`validate`, as ingest does), claims the
   event ids in the backfill's staging buckets (`dedupe.Claims`, so a repeat anywhere in the
   files is applied once), folds what it owns (`plan.Fold`, the incremental path's fold, plus
   the columns' identifier-keyed effect, `columnar.node_state`), cuts the fold into parts by
   account or identifier key (`Fold.split_state`) and the columns by account
   (`columnar.split_rows`), and appends each part to that part's spill files.
2. **Reduce.** A worker merges one part's spilled folds (`Fold.merge_state`, exact) and folds
   its columns (`columnar.fold_columns`, numpy), groups its links with the folds' as arrays
   (`columnar.LinkTable`), builds its write plan and writes it as importer CSV
   (`import_files.write_part`); the parts' files are then joined into one per label and type
   (`import_files.join_parts`).

A part holds a fixed share of the accounts and identifiers, and the number of parts grows with
the input, so a worker's memory does not grow with the number of events.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import shutil
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson
import redis

from backend.events.contract import Event
from backend.events.reader import FileReadError, iter_blocks, open_stream
from backend.events.validation import Rejection, validate
from backend.ingest import columnar, dlq, import_files
from backend.ingest.dedupe import HASHTABLE_MARKER, Claims
from backend.ingest.plan import STATE_FIELDS, Fold
from backend.ingest.service import claim_and_fold

STAGING = "heracles:backfill:seen:"
CHUNK_LINES = 25_000
# Parts are sized so one part's merged fold stays bounded whatever the input: at most ~250k
# events per part, the number of parts from the input's size before anything is read (the
# 1,024,000-account run, 6.8M events in 38 parts, peaked at 5.3 GiB for the whole command,
# importer included: docs/benchmarks.md).
EVENTS_PER_PART = 250_000
BYTES_PER_EVENT = 350  # a contract event as JSON text (seed: 330-380)
GZIP_RATIO = 6  # JSON lines compress ~6x; a wrong guess only changes the part size
MIN_PARTS = 8
_FRAME = struct.Struct("<I")


def parts_for(paths: Sequence[Path], workers: int) -> int:
    size = 0
    for path in paths:
        with path.open("rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        size += path.stat().st_size * (GZIP_RATIO if gzipped else 1)
    events = size / BYTES_PER_EVENT
    return max(MIN_PARTS, 2 * workers, math.ceil(events / EVENTS_PER_PART))


@dataclass
class FoldStats:
    lines: int = 0
    accepted: int = 0  # valid events owned by this backfill (folded)
    duplicates: int = 0
    rejected: int = 0
    not_kept: int = 0  # rejections over the dead-letter store's limit
    bytes_read: int = 0
    bytes_total: int = 0
    file_errors: list[str] = field(default_factory=list)
    fold_s: float = 0.0
    copy_s: float = 0.0  # staging claims from a scratch Redis to the stack's (`copy_staging`)
    staged_buckets: int = 0
    reduce_s: float = 0.0
    parts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    multiline: bool = False


Progress = Callable[[str, FoldStats], None]


# --- worker side ----------------------------------------------------------------------------
_worker: dict[str, Any] = {}
# A worker's memory of what it has spilled of the identifier-keyed fold (`Sent`), in entries;
# ~150 bytes each, so ~300 MB a worker at most.
SENT_LIMIT = 2_000_000


class Sent:
    """What of the identifier-keyed fold this worker has spilled, so as not to spill it again.

    A chunk's identifier nodes, IP structure and node properties were cut into parts and
    spilled chunk after chunk, though most recur: the `full` preset's 262,144 template bands
    turn up in every chunk, an exit in chunk after chunk. Nodes and IP structure are sets,
    so a part that holds one once holds it; a node's properties are spilled again only when
    newer than the ones this worker spilled (the part keeps the latest). Past `SENT_LIMIT`
    entries the memory starts again empty, which only spills some things twice, as repeats
    from the other workers are spilled: the reduce merges either.
    """

    nodes: set[tuple[str, str]]
    ip_structure: set[tuple[Any, ...]]
    props: dict[tuple[str, str], str]  # a node's properties spilled: their stamp

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        self.nodes, self.ip_structure, self.props = set(), set(), {}

    def keep_new(self, fold: Fold) -> None:
        """Drop from `fold` what was spilled before; remember what is left as spilled."""
        if len(self.nodes) + len(self.ip_structure) + len(self.props) > SENT_LIMIT:
            self.forget()
        nodes, ip_structure, props = self.nodes, self.ip_structure, self.props
        fold.targets = {node for node in fold.targets if node not in nodes}
        fold.ip_structure = {row for row in fold.ip_structure if row not in ip_structure}
        fold.props = {
            node: p for node, p in fold.props.items()
            if (spilled := props.get(node)) is None or p.stamp > spilled
        }  # fmt: skip
        nodes.update(fold.targets)
        ip_structure.update(fold.ip_structure)
        props.update((node, p.stamp) for node, p in fold.props.items())


def _init_worker(redis_url: str, ttl_s: int, spill: str, parts: int) -> None:
    # As in Celery workers (workers.resources.tune_gc): a chunk allocates millions of
    # acyclic objects, and default thresholds re-scanned the heap so often it cost more
    # than validating (measured 131 -> 82 µs per event).
    gc.freeze()
    gc.set_threshold(200_000, 20, 1000)
    client = redis.Redis.from_url(redis_url)
    claims = Claims(client, ttl_s, STAGING, HASHTABLE_MARKER)
    _worker.update(claims=claims, spill=Path(spill), parts=parts, pid=os.getpid(), sent=Sent())


@dataclass
class _ChunkResult:
    lines: int
    accepted: int
    duplicates: int
    rejections: list[Rejection]


def _fold_chunk(chunk: int, source: str, items: list[tuple[int, str]]) -> _ChunkResult:
    """Validate, claim, fold and spill one chunk (a worker process)."""
    rejections: list[Rejection] = []
    unique: dict[str, tuple[Event, str, str]] = {}
    rows: dict[str, columnar.Row] = {}
    valid = 0
    for number, text in items:
        # Of two lines with one event id, the first is the event (as `ingest` takes it).
        row = columnar.accept(text)
        if row is not None:
            valid += 1
            if row[columnar.EVENT_ID] not in unique:
                rows.setdefault(row[columnar.EVENT_ID], row)
            continue
        location = f"line {number}"
        outcome = validate(text, source, location)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            valid += 1
            if outcome.event_id not in rows:
                unique.setdefault(outcome.event_id, (outcome, text, location))
    # A chunk owns the ids it claims first; a repeat in another chunk finds them taken.
    claims: Claims = _worker["claims"]
    owner = f"~{chunk}"  # never a Celery batch id (a UUID): an incremental repeat is skipped
    folded, owned, unfoldable = claim_and_fold(claims, owner, unique, source)
    rejections += [rejection for _, rejection in unfoldable]
    fast = list(rows.values())
    flags = claims.claim(owner, [(row[columnar.EVENT_ID], row[columnar.DAY]) for row in fast])
    fast = [row for row, mine in zip(fast, flags, strict=True) if mine]
    columns = columnar.transpose(fast)
    columnar.node_state(fast, columns, folded)
    _worker["sent"].keep_new(folded)
    _spill(folded, columnar.split_rows(columns, _worker["parts"]))
    duplicates = valid - len(owned) - len(fast) - len(unfoldable)
    return _ChunkResult(len(items), len(owned) + len(fast), duplicates, rejections)


def _spill(folded: Fold, columns: dict[int, columnar.Columns]) -> None:
    spill: Path = _worker["spill"]
    for part, state in enumerate(folded.split_state(_worker["parts"])):
        folder = spill / f"part-{part:05d}"
        if part in columns:
            _append(folder / f"w{_worker['pid']}.columns", pickle.dumps(columns[part], protocol=5))
        if not state["events"] and not any(state[name] for name in (*STATE_FIELDS, "nodes")):
            continue
        # Not compressed: zlib cost more than the disk it saved.
        _append(folder / f"w{_worker['pid']}.frames", orjson.dumps(state))


def _append(path: Path, frame: bytes) -> None:
    with path.open("ab") as f:
        f.write(_FRAME.pack(len(frame)))
        f.write(frame)


def _frames(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while header := f.read(_FRAME.size):
            (size,) = _FRAME.unpack(header)
            yield f.read(size)


def _reduce_part(spill: str, out: str, part: int) -> tuple[int, int, import_files.PartFiles]:
    """Merge one part's spilled folds and write its importer files (a worker process)."""
    folder = Path(spill) / f"part-{part:05d}"
    merged = Fold()
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("*.frames")):
        for frame in _frames(path):
            state = orjson.loads(frame)
            for label, key, props in state.pop("nodes"):
                created = nodes.setdefault((label, key), {})
                if props:
                    created.update(props)
            merged.merge_state(state)
    # Our own spill files, written by this backfill's workers moments ago.
    pieces = [
        pickle.loads(frame)  # noqa: S301
        for path in sorted(folder.glob("*.columns"))
        for frame in _frames(path)
    ]
    links = columnar.LinkTable()
    if pieces:
        columnar.fold_columns(columnar.concat(pieces), merged, links)
    # The general path's links (signups' above all) join the columns' and are grouped with
    # them, as arrays: a part writes ~200,000 links at the `full` preset.
    links.add_fold(merged.links)
    merged.links = {}
    plan = merged.build(ordered=False)
    written = import_files.write_part(Path(out), part, plan, nodes, links.rows())
    shutil.rmtree(folder)
    return part, plan.events, written


# --- the reading process --------------------------------------------------------------------
def _chunks(
    paths: Sequence[Path], stats: FoldStats, rejected: list[Rejection]
) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Lines in chunks; unreadable lines go to `rejected` as ingest reports them."""
    done = 0
    for path in paths:
        source = str(path)
        stream, counter = open_stream(path)
        items: list[tuple[int, str]] = []
        try:
            with stream:
                for good, bad in iter_blocks(stream):
                    rejected += (
                        Rejection(source, f"line {line.number}", "", line.error or "unreadable",
                                  line.raw)
                        for line in bad
                    )  # fmt: skip
                    items += good
                    if len(items) >= CHUNK_LINES:
                        stats.bytes_read = done + counter.position
                        yield source, items
                        items = []
        except FileReadError as exc:
            stats.file_errors.append(f"{path}: {exc}")
        if items:
            yield source, items
        done += path.stat().st_size
        stats.bytes_read = done


def fold_files(
    paths: Sequence[Path],
    out: Path,
    client: redis.Redis,
    claims_url: str,
    ttl_s: int,
    workers: int,
    dlq_max_bytes: int | None,
    progress: Progress,
) -> FoldStats:
    """Fold `paths` into importer files under `out` (created empty); returns the counts.

    `client` is the stack's Redis (rejections, and the staging claims once the fold is
    done); the workers claim at `claims_url`, a scratch Redis of the backfill's own
    (`devstack.scratch_redis`) or the stack's.
    """
    stats = FoldStats(bytes_total=sum(path.stat().st_size for path in paths))
    parts = stats.parts = parts_for(paths, workers)
    clear_staging(client)
    scratch = redis.Redis.from_url(claims_url)
    clear_staging(scratch)
    if out.exists():
        shutil.rmtree(out)
    spill = out / "spill"
    for part in range(parts):
        (spill / f"part-{part:05d}").mkdir(parents=True)
    csv_root = out / "csv"
    import_files.write_headers(csv_root)
    started = time.perf_counter()
    context = get_context("spawn")  # workers hold their own Redis client; nothing is inherited
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker,
        initargs=(claims_url, ttl_s, str(spill), parts),
    ) as pool:  # fmt: skip
        rejected: list[Rejection] = []
        pending: set[Future[_ChunkResult]] = set()

        def settle(done: set[Future[_ChunkResult]]) -> None:
            for future in done:
                result = future.result()
                stats.lines += result.lines
                stats.accepted += result.accepted
                stats.duplicates += result.duplicates
                rejected.extend(result.rejections)
            if rejected:
                kept = dlq.push(client, rejected, dlq_max_bytes)
                stats.rejected += len(rejected)
                stats.not_kept += len(rejected) - kept
                rejected.clear()
            progress("fold", stats)

        for chunk, (source, items) in enumerate(_chunks(paths, stats, rejected)):
            pending.add(pool.submit(_fold_chunk, chunk, source, items))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                settle(done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            settle(done)
        settle(set())
        stats.fold_s = time.perf_counter() - started
        if not _same_server(scratch, client):
            started = time.perf_counter()
            progress("claims to the stack's Redis", stats)
            stats.staged_buckets = copy_staging(scratch, client, ttl_s)
            stats.copy_s = time.perf_counter() - started

        started = time.perf_counter()
        rows: dict[str, int] = {}
        futures = [pool.submit(_reduce_part, str(spill), str(csv_root), p) for p in range(parts)]
        folded = 0
        for index, future in enumerate(futures, start=1):
            _, events, written = future.result()
            folded += events
            for name, n in written.rows.items():
                rows[name] = rows.get(name, 0) + n
            stats.multiline = stats.multiline or written.multiline
            stats.rows = rows
            progress(f"reduce {index}/{parts}", stats)
        import_files.join_parts(csv_root)
        stats.reduce_s = time.perf_counter() - started
    shutil.rmtree(spill)
    if folded != stats.accepted:
        raise RuntimeError(f"folded {folded} events but accepted {stats.accepted}")
    return stats


def _same_server(a: redis.Redis, b: redis.Redis) -> bool:
    return bool(a.info("server")["run_id"] == b.info("server")["run_id"])


COPY_BATCH = 64  # buckets per round trip: ~1,100 claims each at the `full` preset


def copy_staging(source: redis.Redis, target: redis.Redis, ttl_s: int) -> int:
    """Every staging bucket of `source`, whole, into `target` (`DUMP`/`RESTORE`: serialised
    and loaded in C), and out of `source` as it goes; returns the buckets copied."""
    copied = 0
    keys = list(source.scan_iter(match=f"{STAGING}*", count=1000))
    for start in range(0, len(keys), COPY_BATCH):
        batch = keys[start : start + COPY_BATCH]
        read = source.pipeline(transaction=False)
        for key in batch:
            read.dump(key)
        write = target.pipeline(transaction=False)
        for key, payload in zip(batch, read.execute(), strict=True):
            if payload is not None:  # not expired in between
                write.restore(key, ttl_s * 1000, payload, replace=True)
                copied += 1
        write.execute()
        source.unlink(*batch)  # freed in Redis's background thread: 2 GiB in all at `full`
    return copied


def clear_staging(client: redis.Redis) -> int:
    """Drop the staging claims a previous (failed or interrupted) backfill left behind."""
    return unlink_matching(client, f"{STAGING}*")


def unlink_matching(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching `pattern`, a thousand per call; returns how many."""
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += int(client.unlink(*batch))
            batch = []
    if batch:
        removed += int(client.unlink(*batch))
    return removed
