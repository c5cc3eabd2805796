"""`make bench-replay`: early detection on randomly drawn populations (issue 15, item 3).

Each draw is a population whose networks have their tactics drawn at random (`seed.draws`, the
same draws as `make bench-robustness` at a smaller size: the replay refreshes about a hundred
times). It is fed into an empty bench stack in event-time order through Celery, with a
detection refresh on a worker every `--every` simulated hours (`heracles replay`), and for
each network the benchmark records the hours from its first signup to its first flag, the
share of its accounts flagged at the end, and the share of its exchanges made before the flag.
The **worst** network of the worst draw is what counts (target: every network flagged before
it has made 10% of its eventual exchanges).

By default each draw also has a regrowth (`seed.draws`: the operator of one network returning
late in the window with fresh accounts on its infrastructure) and an analyst who confirms
flagged networks (`heracles replay --confirm`); the regrowth's accounts should be flagged at
the first refresh after their first exchange.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from rich.console import Console

from backend.cli.replay import run_replay
from backend.core.config import get_settings
from backend.evaluation.replay import REGROWTH_SUFFIX, ReplayReport
from benchmarks.bench_ingest import _wipe
from devstack import lifecycle
from seed.draws import draw_campaigns
from seed.generate import generate

console = Console(width=160)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--first-draw", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=40_000)
    parser.add_argument("--fake", type=int, default=8_000)
    parser.add_argument("--usage-scale", type=float, default=0.05)
    parser.add_argument("--every", type=float, default=6.0, help="Simulated hours per refresh.")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument(
        "--no-regrowth",
        dest="regrowth",
        action="store_false",
        help="No operator returning on a drawn network's infrastructure.",
    )
    parser.add_argument("--no-confirm", dest="confirm", action="store_false",
                        help="No analyst confirming flagged networks.")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(".local/bench/replay.json"))
    args = parser.parse_args()
    settings = get_settings()
    lifecycle.up(settings, console)
    reports: dict[int, ReplayReport] = {}
    for draw in range(args.first_draw, args.first_draw + args.draws):
        rng = np.random.default_rng([args.seed, draw])
        campaigns = draw_campaigns(rng, args.fake, regrowth=args.regrowth)
        out = settings.STATE_DIR / "replay" / f"draw-{draw}"
        generate(args.accounts, args.seed * 1000 + draw, out, args.usage_scale,
                 campaigns=campaigns)  # fmt: skip
        _wipe(settings)
        console.rule(f"draw {draw}: " + ", ".join(f"{c.label} {c.accounts:,}" for c in campaigns))
        reports[draw] = run_replay(console, [out / "events.jsonl.gz"], out / "labels.jsonl",
                                   args.every, out / "replay.json", args.confirm)  # fmt: skip
        worst = {
            "draws": len(reports),
            "exchanges_before_flag": max(r.worst_share for r in reports.values()),
            "hours_to_flag": max(
                (n.hours_to_flag if n.hours_to_flag is not None else float("inf"))
                for r in reports.values() for n in r.networks
            ),
            "flagged_share": min(n.flagged_share for r in reports.values() for n in r.networks),
            "genuine_flagged": max(r.genuine_flagged for r in reports.values()),
            "genuine_ever_flagged": max(r.genuine_ever_flagged for r in reports.values()),
            "regrowth_flagged_promptly": min(
                (n.flagged_promptly for r in reports.values() for n in r.networks
                 if n.campaign.endswith(REGROWTH_SUFFIX)), default=None,
            ),
            "regrowth_after_ban_flagged_promptly": min(
                (n.flagged_promptly_after_ban for r in reports.values() for n in r.networks
                 if n.flagged_promptly_after_ban is not None), default=None,
            ),
        }  # fmt: skip
        console.print({"worst so far": worst})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(
            {"worst": worst, "every_hours": args.every,
             "draws": {d: asdict(r) for d, r in reports.items()}}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
