"""`make bench-incremental`: the incremental refresh after a change to a share of the accounts,
timed, and compared with what a full refresh of the same graph gives.

On the bench stack's graph as it is (load one first: `make bench-backfill` or `bench-detect`):
1. a full refresh (it records the projection weight the incremental one scales by, and takes
   the marks ingest left);
2. the change: `--share` of the accounts (drawn with `--seed`) come back as new accounts, each
   a clone of one that exists (new account id, event ids and email; the same cards, devices,
   exits, templates, client), ingested through Celery: a fake account's clone joins its
   network, a genuine one's sits beside its original;
3. a full refresh of the changed graph computed in memory, not written (the reference);
4. the incremental refresh, timed stage by stage, then compared with the reference on what ban
   tooling receives.
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import resource
import time
from pathlib import Path
from typing import Any

import redis
from rich.console import Console

from backend.core.config import get_settings
from backend.detection.pipeline import Detection, Params, Snapshot, detect
from backend.detection.reads import read_previous, read_snapshot
from backend.detection.service import refresh
from backend.detection.tasks import LOCK_KEY
from backend.evaluation.labels import read_labels
from backend.evaluation.repository import read_account_ids, read_memberships
from backend.graph.driver import create_driver
from benchmarks.bench_ingest import _end_to_end
from benchmarks.seeded import report as report_table
from devstack import lifecycle

console = Console()
ACCOUNT = re.compile(r'"account_id":"([^"]+)"')


def _clones(source: Path, out: Path, share: float, seed: int) -> int:
    """Every event of a `share` of the accounts in `source`, as new accounts' events."""
    with gzip.open(source, "rt") as src:
        ids = sorted({m.group(1) for line in src if (m := ACCOUNT.search(line))})
    picked = set(random.Random(seed).sample(ids, int(len(ids) * share)))
    with gzip.open(source, "rt") as src, gzip.open(out, "wt", compresslevel=1) as dst:
        for line in src:
            m = ACCOUNT.search(line)
            if m and m.group(1) in picked:
                old = m.group(1)
                clone = f"{old}-c{seed}"  # a rerun with another seed adds other accounts
                dst.write(line.replace(old, clone).replace('"email":"', f'"email":"c{seed}'))
    return len(picked)


def _banned(
    rows: dict[str, tuple[str, float, float]], flag: float, min_conf: float
) -> dict[str, str]:
    return {a: c for a, (c, risk, conf) in rows.items() if risk >= flag and conf >= min_conf}


def _reference(result: Detection, snapshot: Snapshot, names: dict[int, str]) -> dict[str, Any]:
    return {
        names[int(snapshot.node_ids[i])]: (
            result.assignment.ids[c],
            float(result.scored.risk[c]),
            round(float(result.conf[i]), 4),
        )
        for c, members in enumerate(result.members_of)
        for i in members
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=Path,
                        default=Path(".local/bench/seed/full-usage-0.05/events.jsonl.gz"),
                        help="The population the bench graph was loaded from.")  # fmt: skip
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path(".local/bench/incremental.json"))
    args = parser.parse_args()
    settings = get_settings()
    lifecycle.up(settings, console)
    client = redis.Redis.from_url(settings.REDIS_URL)
    params = Params.from_settings(settings)
    delta = args.out.with_suffix(".delta.jsonl.gz")
    with create_driver(settings) as driver, client.lock(LOCK_KEY, timeout=3600):
        started = time.perf_counter()
        full = refresh(driver, settings, client)
        console.print(f"full refresh before the change: {time.perf_counter() - started:.1f} s")
        clones = _clones(args.events, delta, args.share, args.seed)
        ingested = _end_to_end(settings, delta, f"{clones:,} new accounts")
        time.sleep(2)  # ingest's last post-commit marks
        snapshot, previous = read_snapshot(driver, settings), read_previous(driver, settings)
        started = time.perf_counter()
        reference = detect(snapshot, previous, params)
        reference_s = time.perf_counter() - started
        names = read_account_ids(driver, settings.NEO4J_DATABASE)
        expected = _reference(reference, snapshot, names)
        del snapshot, previous, reference
        report = refresh(driver, settings, client, incremental=True)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        got = {
            m.account: (m.cluster, m.risk, m.confidence)
            for m in read_memberships(driver, settings.NEO4J_DATABASE)
        }
    flag, min_conf = settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE
    want, have = _banned(expected, flag, min_conf), _banned(got, flag, min_conf)
    same = sum(1 for a, c in want.items() if have.get(a) == c)
    # A clone is what its original is (`_clones`); genuine accounts each refresh bans.
    labels = read_labels(args.events.parent / "labels.jsonl")

    def genuine(banned: dict[str, str]) -> int:
        return sum(1 for a in banned if labels.get(a.split("-c")[0]) is None)

    clustered = sum(1 for a, (c, _, _) in expected.items() if got.get(a, ("",))[0] == c)
    result = {
        "events": str(args.events), "share": args.share, "seed": args.seed,
        "accounts": report.accounts, "new_accounts": clones, "ingest": ingested,
        "full_refresh_before_s": round(sum(full.seconds.values()), 2),
        "reference_full_detect_s": round(reference_s, 2),
        "scope": report.scope, "touched": report.touched, "region": report.region,
        "seconds": report.seconds, "total_s": round(sum(report.seconds.values()), 2),
        "parts": report.parts, "full_refresh_parts": full.parts, "full_refresh_source": full.source,
        "memberships_written": report.memberships_written,
        "memberships_ended": report.memberships_ended,
        "banned_full": len(want), "banned_incremental": len(have),
        "banned_same_cluster": same,
        "banned_agreement": round(same / max(len(want), 1), 5),
        "banned_only_incremental": len(set(have) - set(want)),
        # For tracing: each such account's (cluster, risk, confidence) in both refreshes.
        "only_incremental": [
            {"account": a, "genuine": labels.get(a.split("-c")[0]) is None,
             "incremental": got.get(a), "full": expected.get(a)}
            for a in sorted(set(have) - set(want))[:50]
        ],
        "genuine_banned_full": genuine(want), "genuine_banned_incremental": genuine(have),
        "clustered_same_cluster": round(clustered / max(len(expected), 1), 5),
        "peak_rss_mib": round(peak_mib),
    }  # fmt: skip
    report_table(console, "bench-incremental", result, args.out)


if __name__ == "__main__":
    main()
