"""Shared by `bench-detect` and `bench-api`: a seed preset loaded through the real path (seed →
ingest through Celery) on the bench stack, and the result table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from backend.core.config import Settings
from benchmarks.bench_ingest import _end_to_end, _wipe
from seed.generate import generate
from seed.scenarios import PRESETS


def seed_dir(settings: Settings, preset: str, usage_scale: float | None = None) -> Path:
    """Where a preset's population lives; one with other than its usage scale lives apart."""
    folder = settings.STATE_DIR / "seed" / preset
    if usage_scale is not None and usage_scale != PRESETS[preset].usage_scale:
        folder = folder.with_name(f"{preset}-usage-{usage_scale:g}")
    return folder


def load_preset(
    settings: Settings, preset: str, seed: int, console: Console, usage_scale: float | None = None
) -> Path:
    """Generates the preset (optionally with less usage per account), empties the graph (and
    forgets event ids) and ingests it."""
    out = seed_dir(settings, preset, usage_scale)
    spec = PRESETS[preset]
    generate(spec.accounts, seed, out, spec.usage_scale if usage_scale is None else usage_scale)
    _wipe(settings)
    console.print(_end_to_end(settings, out / "events.jsonl.gz", preset))
    return out


def report(console: Console, title: str, result: dict[str, Any], out: Path) -> None:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, json.dumps(value))
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
