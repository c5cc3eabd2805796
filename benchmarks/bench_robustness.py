"""`make bench-robustness`: detection judged on populations it was not tuned on.

Each draw is a population whose fake networks have their tactics drawn at random
(`seed.draws`: 4-7 networks adding up to `--fake` accounts, one of them up to 15,000, every
parameter from a range), whose genuine users send their SDK's default prompt in a drawn
share (`seed.draws.draw_sdk_defaults`) and whose campuses run courses on the API in a drawn
share (`seed.draws.draw_cohorts`). For each draw, through the real path on the bench stack:

1. generate it; hold out a random `--delta` share of its accounts (their events arrive later);
2. load the rest (`heracles backfill`, as a team loads its history; `--load ingest` sends it
   through Celery instead), refresh, score what ban tooling would receive (risk >=
   DETECTION_FLAG_THRESHOLD and membership confidence >= DETECTION_MIN_CONFIDENCE) against the
   labels: precision, recall, each network's recall, genuine accounts flagged;
3. ingest the held-out accounts (new genuine accounts and new members of the networks), refresh
   again, score again, and measure how many of the accounts flagged before are still flagged
   under the same cluster ID.

The **worst** draw is what counts. Each draw's snapshot (shared identifiers and member features,
before and after the delta) is saved, so `--offline` can rerun the pure pipeline
(`backend.detection.pipeline.detect`) on them in seconds while the model is being worked on;
figures for the docs come from the full path, never from `--offline`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import redis
from neo4j import Driver
from rich.console import Console
from rich.table import Table

from backend.cli.backfill import backfill
from backend.core.config import Settings, get_settings
from backend.detection.pipeline import (
    I64,
    Detection,
    Params,
    Previous,
    Snapshot,
    banned_bystanders,
    detect,
    reach_degrees,
    region_of,
)
from backend.detection.projection import Incidence, in_account_order, restrict
from backend.detection.reads import account_table, read_snapshot
from backend.detection.service import refresh
from backend.detection.tasks import LOCK_KEY
from backend.evaluation.labels import read_labels
from backend.evaluation.metrics import evaluate
from backend.evaluation.repository import Membership, read_account_ids, read_memberships
from backend.graph.driver import create_driver
from benchmarks.bench_ingest import _end_to_end, _wipe
from devstack import lifecycle
from seed.draws import draw_campaigns, draw_cohorts, draw_sdk_defaults
from seed.generate import generate

console = Console(width=160)


@dataclass
class Score:
    precision: float
    recall: float
    worst_network: float
    worst_network_label: str
    genuine_flagged: int
    flagged: int
    # The most network ids one network's flagged accounts are handed under (1: one id, what
    # "one network, one id" asks), and that network.
    network_ids: int = 0
    network_ids_label: str = ""


@dataclass
class DrawResult:
    draw: int
    networks: dict[str, int]
    before: Score
    after: Score
    kept_id: (
        float  # of accounts flagged before (and still labelled), flagged after in the same cluster
    )
    seconds: float
    kept_network: float = 0.0  # the same, in the same network (`Cluster.networkId`)
    # `--offline --incremental`: the delta through an incremental refresh instead (its score,
    # the share of the full refresh's flagged accounts under the same cluster id, and how many
    # it flags that the full refresh does not).
    incremental: dict[str, Any] | None = None
    # Genuine users sending their SDK's default prompt: share and builds per SDK (None: none).
    sdk_defaults: dict[str, Any] | None = None
    # Campus courses on the API (`seed.scenarios.Cohorts`; None: none).
    cohorts: dict[str, Any] | None = None


def _score(labels: dict[str, str | None], members: list[Membership], settings: Settings) -> Score:
    thr, conf = settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE
    ev = evaluate(labels, members, thr, conf)
    worst = min(ev.campaigns, key=lambda c: c.recall)
    ids: dict[str, set[str]] = {}
    for account, network in _flagged(members, settings, by_network=True).items():
        campaign = labels.get(account)
        if campaign:
            ids.setdefault(campaign, set()).add(network)
    most = max(ids, key=lambda c: len(ids[c]), default="")
    return Score(round(ev.precision, 4), round(ev.recall, 4), round(worst.recall, 4),
                 worst.campaign, ev.genuine_flagged, ev.flagged, len(ids.get(most, ())),
                 most)  # fmt: skip


def _flagged(
    memberships: list[Membership], settings: Settings, by_network: bool = False
) -> dict[str, str]:
    """Flagged account -> the id ban tooling acts on: its cluster's, or its network's."""
    return {
        m.account: (m.network or m.cluster) if by_network else m.cluster for m in memberships
        if m.risk >= settings.DETECTION_FLAG_THRESHOLD
        and m.confidence >= settings.DETECTION_MIN_CONFIDENCE
    }  # fmt: skip


def _kept(before: dict[str, str], after: dict[str, str]) -> float:
    if not before:
        return 1.0
    return sum(after.get(a) == c for a, c in before.items()) / len(before)


def _split(events: Path, holdout: set[str], base: Path, delta: Path) -> None:
    marker = '"account_id":"'
    with gzip.open(events, "rt") as src, gzip.open(base, "wt", compresslevel=1) as b, \
            gzip.open(delta, "wt", compresslevel=1) as d:  # fmt: skip
        for line in src:
            at = line.find(marker)
            account = line[at + len(marker) : line.find('"', at + len(marker))] if at >= 0 else ""
            (d if account in holdout else b).write(line)


def _save_snapshot(driver: Driver, settings: Settings, path: Path) -> None:
    """The pure pipeline's input, with member features for every linked account."""
    snap = read_snapshot(driver, settings)
    dense = np.arange(snap.node_ids.size)
    table, shape = account_table(driver, settings, snap.node_ids, dense)
    ids = read_account_ids(driver, settings.NEO4J_DATABASE)
    with path.open("wb") as out:
        pickle.dump({"incidence": snap.incidence, "node_ids": snap.node_ids, "table": table,
                     "shape": shape, "account_ids": [ids[n] for n in snap.node_ids.tolist()]},
                    out, protocol=5)  # fmt: skip


def _refresh(driver: Driver, settings: Settings) -> None:
    with redis.Redis.from_url(settings.REDIS_URL).lock(
        LOCK_KEY, timeout=settings.DETECTION_LOCK_TTL_S
    ):
        refresh(driver, settings)


def run_draw(settings: Settings, args: argparse.Namespace, draw: int) -> DrawResult:
    started = time.perf_counter()
    rng = np.random.default_rng([args.seed, draw])
    campaigns = draw_campaigns(rng, args.fake)
    # A stream of its own, so the networks are the draws they were before genuine users sent
    # SDK default prompts (2026-12-04; draws run before then had none).
    sdk = draw_sdk_defaults(np.random.default_rng([args.seed, draw, 1]))
    cohorts = draw_cohorts(np.random.default_rng([args.seed, draw, 2]))  # since 2026-12-04 too
    out = settings.STATE_DIR / "robustness" / f"draw-{draw}"
    generate(args.accounts, args.seed * 1000 + draw, out, args.usage_scale, campaigns=campaigns,
             sdk=sdk, cohorts=cohorts)  # fmt: skip
    labels = read_labels(out / "labels.jsonl")
    holdout = set(random.Random(draw).sample(sorted(labels), int(len(labels) * args.delta)))
    (out / "holdout.json").write_text(json.dumps(sorted(holdout)))
    _split(out / "events.jsonl.gz", holdout, out / "base.jsonl.gz", out / "delta.jsonl.gz")
    db = settings.NEO4J_DATABASE
    if args.load == "backfill":  # the history as a team loads it first; replaces the last draw
        backfill(console, [out / "base.jsonl.gz"], None, True, None, False, False)
    else:
        _wipe(settings)
        _end_to_end(settings, out / "base.jsonl.gz", f"draw {draw} (base)")
    with create_driver(settings) as driver:  # after the import: it restarts Neo4j's tx ids
        _refresh(driver, settings)
        _save_snapshot(driver, settings, out / "before.pkl")
        members = read_memberships(driver, db)
        base_labels = {a: c for a, c in labels.items() if a not in holdout}
        before = _score(base_labels, members, settings)
        flagged_before = _flagged(members, settings)
        networks_before = _flagged(members, settings, by_network=True)
        _end_to_end(settings, out / "delta.jsonl.gz", f"draw {draw} (delta)")
        _refresh(driver, settings)
        _save_snapshot(driver, settings, out / "after.pkl")
        members = read_memberships(driver, db)
        after = _score(labels, members, settings)
        kept = _kept(flagged_before, _flagged(members, settings))
        kept_network = _kept(networks_before, _flagged(members, settings, by_network=True))
    result = DrawResult(draw, {c.label: c.accounts for c in campaigns}, before, after,
                        round(kept, 4), round(time.perf_counter() - started, 1),
                        round(kept_network, 4), sdk_defaults=asdict(sdk),
                        cohorts=asdict(cohorts))  # fmt: skip
    (out / "result.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


# --- offline: the pure pipeline on saved snapshots ------------------------------------------


def _by_key(inc: Incidence) -> Incidence:
    """Identifiers in (kind, key) order, as the export returns them (snapshots saved before
    the export sorted them are in store order)."""
    ident = np.asarray(sorted(range(len(inc.keys)), key=lambda j: (int(inc.kind[j]), inc.keys[j])))
    lengths = np.diff(inc.ptr)[ident]
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = np.arange(int(ptr[-1])) + np.repeat(inc.ptr[:-1][ident] - ptr[:-1], lengths)
    return replace(
        inc, kind=inc.kind[ident], degree=inc.degree[ident], keys=[inc.keys[j] for j in ident],
        ptr=ptr, holders=inc.holders[rows],
        uncapped=None if inc.uncapped is None else inc.uncapped[ident],
        positions=None if inc.positions is None else inc.positions[ident],
    )  # fmt: skip


def _load(path: Path) -> tuple[Snapshot, list[str]]:
    """A saved snapshot, put in the canonical order the live export gives (`in_account_order`)."""
    with path.open("rb") as handle:
        saved: dict[str, Any] = pickle.load(handle)  # our own benchmark files
    ids = np.asarray(saved["account_ids"], object)
    inc, order = in_account_order(_by_key(saved["incidence"]), ids)
    table = {c: v[order] for c, v in saved["table"].items()}
    shape = saved["shape"][order]

    def features(dense: np.ndarray[Any, Any]) -> tuple[dict[str, Any], Any]:
        return table, shape

    return Snapshot(inc, saved["node_ids"][order], features), ids[order].tolist()


def _memberships(result: Detection, account_ids: list[str]) -> list[Membership]:
    return [
        Membership(account_ids[i], result.assignment.ids[c], float(result.scored.risk[c]),
                   float(result.conf[i]), result.network_ids[c])
        for c, members in enumerate(result.members_of) for i in members
    ]  # fmt: skip


def run_offline(settings: Settings, directory: Path, with_incremental: bool = False) -> DrawResult:
    labels = read_labels(directory / "labels.jsonl")
    params = Params.from_settings(settings)
    started = time.perf_counter()
    snap, ids = _load(directory / "before.pkl")
    first = detect(snap, Previous.empty(), params)
    members = _memberships(first, ids)
    holdout = set(json.loads((directory / "holdout.json").read_text()))
    base_labels = {a: c for a, c in labels.items() if a not in holdout}
    before = _score(base_labels, members, settings)
    flagged_before = _flagged(members, settings)
    networks_before = _flagged(members, settings, by_network=True)
    snap2, ids2 = _load(directory / "after.pkl")
    second = detect(snap2, Previous.after(first, snap.node_ids), params)
    members = _memberships(second, ids2)
    after = _score(labels, members, settings)
    kept = _kept(flagged_before, _flagged(members, settings))
    kept_network = _kept(networks_before, _flagged(members, settings, by_network=True))
    draw = int(directory.name.rsplit("-", 1)[1])
    manifest = json.loads((directory / "manifest.json").read_text())
    networks = manifest["campaigns"]
    incremental = None
    if with_incremental:
        members, bystanders = _incremental(snap2, ids2, first, snap.node_ids, ids, holdout, params)
        flagged_full = _flagged(_memberships(second, ids2), settings)
        flagged_incremental = _flagged(members, settings)
        incremental = {
            **asdict(_score(labels, members, settings)),
            "same_cluster_as_full": round(_kept(flagged_full, flagged_incremental), 4),
            "only_incremental": len(set(flagged_incremental) - set(flagged_full)),
            # > 0: the service defers such a refresh (`pipeline.banned_bystanders`); the
            # scores above are then the clusters as the full refresh before the delta left them.
            "deferred_bystanders": bystanders,
        }
    return DrawResult(draw, networks, before, after, round(kept, 4),
                      round(time.perf_counter() - started, 1), round(kept_network, 4),
                      incremental, manifest.get("sdk_defaults"), manifest.get("cohorts"))  # fmt: skip


def _incremental(
    snap: Snapshot,
    ids: list[str],
    first: Detection,
    first_nodes: I64,
    first_ids: list[str],
    touched: set[str],
    params: Params,
) -> tuple[list[Membership], int]:
    """What an incremental refresh over the delta's accounts (after `first`, the full refresh
    before the delta) writes, with the clusters it leaves alone as `first` wrote them, and how
    many bystanders made the service defer it (then it writes nothing). The region is chosen
    as the service chooses it (`pipeline.region_of`), from the saved snapshot."""
    previous = Previous.after(first, first_nodes)
    inc = snap.incidence
    hit = snap.node_ids[np.isin(np.asarray(ids, object), list(touched))]
    chosen = region_of(
        inc, snap.node_ids, hit, previous, reach_degrees(params.kind_weights, params.link_cap),
        get_settings().DETECTION_MIN_CONFIDENCE,
    )  # fmt: skip
    scoped = chosen.previous
    part, dense = restrict(inc, chosen.keep)
    table, shape = snap.features(dense)
    region = Snapshot(part, snap.node_ids[dense],
                      lambda _: ({c: v[dense] for c, v in table.items()}, shape[dense]),
                      total_weight=first.weight, frozen=chosen.frozen[dense],
                      groups=chosen.groups[dense])  # fmt: skip
    result = detect(region, scoped, params)
    settings = get_settings()
    bystanders = banned_bystanders(
        result, region.node_ids, hit, scoped, settings.DETECTION_FLAG_THRESHOLD,
        settings.DETECTION_MIN_CONFIDENCE,
    ).size  # fmt: skip
    if bystanders:
        return _memberships(first, first_ids), int(bystanders)
    region_ids = set(scoped.ids)
    kept = [m for m in _memberships(first, first_ids) if m.cluster not in region_ids]
    return kept + _memberships(result, [ids[i] for i in dense.tolist()]), 0


# --- report ---------------------------------------------------------------------------------


def _courses(cohorts: dict[str, Any] | None) -> str:
    """A draw's courses for the table: share of courses x students, tool / credits shares."""
    if not cohorts or not cohorts["share"]:
        return "-"
    return (f"{cohorts['share']:.2f} x {cohorts['size']}, tool {cohorts['tool']:.2f}, "
            f"credits {cohorts['credits']:.2f}")  # fmt: skip


def _sdk(sdk: dict[str, Any]) -> str:
    """Share x builds, and "2 prompts" for an agent SDK's (draws before it had one)."""
    prompts = sdk.get("prompts", 1)
    return f"{sdk['share']:.2f} x {sdk['versions']}" + (
        f", {prompts} prompts" if prompts > 1 else ""
    )


def _report(results: list[DrawResult], out: Path) -> None:
    table = Table(title="bench-robustness: each draw, before and after the delta")
    for column in ("draw", "networks", "SDK default", "courses", "P", "R", "worst network", "genuine",
                   "ids/net", "P'", "R'", "worst'", "genuine'", "ids/net'", "kept ID", "kept net",
                   "s"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        b, a = r.before, r.after
        sdk = r.sdk_defaults or {"share": 0.0, "versions": 1}
        table.add_row(str(r.draw), str(len(r.networks)),
                      _sdk(sdk) if sdk["share"] else "-",
                      _courses(r.cohorts),
                      f"{b.precision:.4f}", f"{b.recall:.4f}",
                      f"{b.worst_network:.3f} ({b.worst_network_label})", str(b.genuine_flagged),
                      str(b.network_ids), f"{a.precision:.4f}", f"{a.recall:.4f}",
                      f"{a.worst_network:.3f} ({a.worst_network_label})", str(a.genuine_flagged),
                      str(a.network_ids),
                      f"{r.kept_id:.4f}", f"{r.kept_network:.4f}", f"{r.seconds:.0f}")  # fmt: skip
    console.print(table)
    both = [s for r in results for s in (r.before, r.after)]
    worst = {
        "draws": len(results),
        "precision": min(s.precision for s in both),
        "recall": min(s.recall for s in both),
        "worst_network": min(s.worst_network for s in both),
        "genuine_flagged": max(s.genuine_flagged for s in both),
        "network_ids": max(s.network_ids for s in both),
        "kept_id": min(r.kept_id for r in results),
        "kept_network": min(r.kept_network for r in results),
    }
    console.print({"worst draw": worst})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"worst": worst, "draws": [asdict(r) for r in results]}, indent=2)
                   + "\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--first-draw", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=120_000)
    parser.add_argument("--fake", type=int, default=20_000)
    parser.add_argument("--usage-scale", type=float, default=0.05)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load", choices=("backfill", "ingest"), default="backfill",
                        help="How the base history goes in (the delta always goes through "
                             "Celery): `heracles backfill`, or ingest through Celery.")  # fmt: skip
    parser.add_argument("--offline", action="store_true",
                        help="Rerun the pure pipeline on the draws' saved snapshots.")  # fmt: skip
    parser.add_argument("--incremental", action="store_true",
                        help="With --offline: also put the delta through an incremental "
                        "refresh and compare it with the full one.")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(".local/bench/robustness.json"))
    args = parser.parse_args()
    settings = get_settings()
    draws = range(args.first_draw, args.first_draw + args.draws)
    results = []
    if args.offline:
        root = settings.STATE_DIR / "robustness"
        for draw in draws:
            if (root / f"draw-{draw}" / "after.pkl").exists():
                results.append(run_offline(settings, root / f"draw-{draw}", args.incremental))
        _report(results, args.out.with_name("robustness-offline.json"))
        return
    lifecycle.up(settings, console)
    for draw in draws:
        results.append(run_draw(settings, args, draw))
        _report(results, args.out)


if __name__ == "__main__":
    main()
