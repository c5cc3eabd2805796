"""`heracles seed`: write a population's events and labels, streaming, deterministic per seed.

Output is byte-identical for a given (accounts, seed, usage-scale): chunks have their own RNG
streams, and the gzip header carries no file name or time. Compression runs on a second thread
(zlib releases the GIL), so formatting and compression overlap on two cores.
"""

from __future__ import annotations

import gzip
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seed import scenarios as sc
from seed.emit import ChunkWriter, iso
from seed.identifiers import IpPool
from seed.population import Population, build

CHUNK_ACCOUNTS = 4096
REDELIVERY_RATE = 0.004  # share of events delivered twice (at-least-once upstream)


@dataclass
class SeedResult:
    accounts: int
    genuine: int
    campaigns: dict[str, int]
    segments: dict[str, int]
    events: int = 0
    redelivered: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class _GzipSink:
    """Compresses on a background thread; the queue bound keeps memory flat."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("wb")
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=1, mtime=0
        )
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seed-gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                self._gz.write(data)
        except BaseException as exc:  # surfaced on the producer side in put/close
            self._error = exc

    def put(self, lines: list[str]) -> None:
        if self._error:
            raise self._error
        self._queue.put(("\n".join(lines) + "\n").encode())

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._gz.close()
        self._raw.close()
        if self._error:
            raise self._error


def _releases() -> list[str]:
    return [
        json.dumps(
            {
                "type": "model_release",
                "event_id": f"rel-{model}",
                "model": model,
                "occurred_at": iso(int((at - sc.WINDOW_START).total_seconds())),
            },
            separators=(",", ":"),
        )
        for model, at in ((sc.OLD_MODEL, sc.OLD_RELEASE), (sc.NEW_MODEL, sc.NEW_RELEASE))
    ]


def write_labels(pop: Population, path: Path) -> None:
    names = [c.label for c in pop.campaigns]
    with path.open("w") as out:
        for pos, c in enumerate(pop.campaign.tolist()):
            label = "null" if c < 0 else f'"{names[c]}"'
            out.write(f'{{"account_id":"a-{pos:07d}","campaign":{label}}}\n')


def generate(
    accounts: int,
    seed: int,
    out: Path,
    usage_scale: float,
    progress: Callable[[int], None] | None = None,
    campaigns: tuple[sc.Campaign, ...] | None = None,
    sdk: sc.SdkDefaults = sc.SdkDefaults(),
    cohorts: sc.Cohorts = sc.Cohorts(),
) -> SeedResult:
    """`campaigns`: None for the report's six networks scaled to `accounts`; or an explicit
    list (e.g. `seed.draws.draw_campaigns`), each of exactly its size. `sdk`: genuine users
    sending their SDK's default prompt; `cohorts`: campus courses using the API (none of
    either by default)."""
    out.mkdir(parents=True, exist_ok=True)
    pop = build(accounts, seed, campaigns)
    result = SeedResult(
        accounts=pop.size,
        genuine=int((pop.campaign < 0).sum()),
        campaigns=pop.campaign_counts(),
        segments=pop.segment_counts(),
    )
    writer = ChunkWriter(pop, seed, usage_scale, IpPool(), sdk, cohorts)
    sink = _GzipSink(out / "events.jsonl.gz")
    carry: list[str] = _releases()  # redeliveries land in the next chunk, as a retry would
    try:
        for index, start in enumerate(range(0, pop.size, CHUNK_ACCOUNTS)):
            stop = min(start + CHUNK_ACCOUNTS, pop.size)
            lines = writer.chunk(index, start, stop)
            rng = np.random.default_rng([seed, 2, index])
            again = rng.random(len(lines)) < REDELIVERY_RATE
            batch = lines + carry
            carry = [line for line, dup in zip(lines, again.tolist(), strict=True) if dup]
            result.redelivered += len(carry)
            order = rng.permutation(len(batch))
            sink.put([batch[i] for i in order.tolist()])
            result.events += len(lines)
            if progress:
                progress(stop - start)
        if carry:
            sink.put(carry)
    finally:
        sink.close()
    result.events += 2  # model releases
    result.by_type = {**writer.counts, "model_release": 2}
    write_labels(pop, out / "labels.jsonl")
    manifest = {
        "accounts": accounts, "seed": seed, "usage_scale": usage_scale, **result.__dict__,
        "new_model": sc.NEW_MODEL, "new_model_release": sc.NEW_RELEASE.isoformat(),
    }  # fmt: skip
    if campaigns is not None:
        manifest["drawn_campaigns"] = [asdict(c) for c in campaigns]
    if sdk.share:
        manifest["sdk_defaults"] = asdict(sdk)
    if cohorts.share:
        manifest["cohorts"] = asdict(cohorts)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return result
