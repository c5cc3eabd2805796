"""Cut a seed's events into a history and a delta: `python -m seed.split DIR --delta 0.05`.

The generator writes accounts chunk by chunk, so the last lines are the last accounts' events:
the delta is a day of new signups and their traffic, arriving after the history was loaded
(`make demo` backfills the history and ingests the delta).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path


def split(folder: Path, delta: float) -> tuple[int, int]:
    with gzip.open(folder / "events.jsonl.gz", "rb") as f:
        lines = f.readlines()
    cut = len(lines) - int(len(lines) * delta)
    for name, part in (("history", lines[:cut]), ("delta", lines[cut:])):
        with gzip.open(folder / f"{name}.jsonl.gz", "wb", compresslevel=3) as out:
            out.writelines(part)
    return cut, len(lines) - cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--delta", type=float, default=0.05, help="Share of lines in the delta.")
    args = parser.parse_args()
    history, delta = split(args.folder, args.delta)
    print(f"{args.folder}/history.jsonl.gz: {history:,} lines, delta.jsonl.gz: {delta:,} lines")


if __name__ == "__main__":
    main()
