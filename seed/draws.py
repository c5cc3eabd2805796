"""Fake networks with their tactics drawn at random, to judge detection on populations it was
not tuned on (`make bench-robustness`).

Each draw picks 4-7 networks whose sizes add up to the requested fake total (one of them large,
up to 15,000 accounts, as the report's hydra cluster), gives each an archetype and draws every
parameter of it from a range. The ranges are the point: they span what the February 2026 report
describes and what an operator adapting to detection would try (fresh device per account, one
prepaid card each, rotating residential exits, camouflage traffic, a coworking space shared
with genuine users, nothing shared but behaviour), not values any detector was tuned on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from seed.scenarios import PROXY_PROVIDERS, SDK_FINGERPRINTS, Campaign, Cohorts, SdkDefaults

ARCHETYPES = ("proxy_hydra", "prepaid_rotating", "coworking_camouflage", "behaviour_only",
              "hosting_farm")  # fmt: skip
LARGEST = 15_000
SMALLEST = 50


def _sizes(rng: np.random.Generator, total: int, networks: int) -> list[int]:
    """One large network (30-75% of the total, at most LARGEST) and the rest log-uniform, at
    least SMALLEST each, adding up to `total` exactly."""
    large = int(min(LARGEST, total * rng.uniform(0.3, 0.75)))
    rest = total - large
    weights = np.exp(rng.uniform(np.log(1), np.log(40), networks - 1))
    small = np.maximum(SMALLEST, np.floor(rest * weights / weights.sum())).astype(int)
    small[np.argmax(small)] += rest - int(small.sum())
    return [large, *small.tolist()]


def _mix(rng: np.random.Generator, base: tuple[float, ...]) -> tuple[float, ...]:
    """The archetype's capability mix, jittered (Dirichlet around it)."""
    draw = rng.dirichlet(np.asarray(base) * 20 + 0.05)
    return tuple(round(float(x), 3) for x in draw)


def _campaign(rng: np.random.Generator, index: int, archetype: str, size: int) -> Campaign:
    u = rng.uniform
    common: dict[str, Any] = {
        "label": f"draw-{index}-{archetype}", "operation": archetype, "accounts": size,
        "min_accounts": size,
        "exchanges_per_account": float(np.exp(u(np.log(80), np.log(3000)))),
        "cot_rate": round(u(0.0, 0.6), 3),
        "templates": int(rng.integers(3, 20)), "template_bit_noise": int(rng.integers(1, 4)),
        "client_builds": int(rng.integers(1, 5)),
        "signup": ("burst", "waves", "trickle")[int(rng.integers(3))],
        "synchronised": bool(rng.random() < 0.4),
        "new_model_share": round(u(0.2, 0.6), 3),
        "new_model_lag_h": (round(u(0.5, 12), 1), round(u(12, 72), 1)),
        "new_model_rush": round(u(0.0, 0.3), 3),
        "country_mismatch": round(u(0.0, 0.7), 3),
        "camouflage": round(u(0.0, 0.4), 3),
        "cards_per_account": (1, int(rng.integers(1, 4))),
        "accounts_per_phone": 0,
    }  # fmt: skip
    coding = (0.05, 0.55, 0.4, 0.0, 0.0, 0.0)
    if archetype == "proxy_hydra":  # a reseller's exits, cards rotated among small groups
        return Campaign(
            **common, capability_mix=_mix(rng, coding),
            accounts_per_card=int(rng.integers(2, 13)),
            accounts_per_device=int((1, 1, 3, 6)[int(rng.integers(4))]),  # 1: fresh device each
            accounts_per_address=int((0, 20, 60)[int(rng.integers(3))]),
            exit_kind="proxy", proxy_provider=PROXY_PROVIDERS[int(rng.integers(3))],
            exits_per_account=(int(rng.integers(2, 4)), int(rng.integers(4, 7))),
            email_style=("random_disposable", "word_pattern")[int(rng.integers(2))],
            prepaid_share=round(u(0.2, 0.9), 3),
        )  # fmt: skip
    if archetype == "prepaid_rotating":  # one prepaid card each, rotating residential exits
        return Campaign(
            **{**common, "cards_per_account": (1, 1), "signup": "trickle"},
            capability_mix=_mix(rng, (0.3, 0.4, 0.3, 0.0, 0.0, 0.0)),
            accounts_per_card=0, accounts_per_device=int(rng.integers(0, 2)),
            accounts_per_address=0, exit_kind="rotating_residential", proxy_provider=None,
            exits_per_account=(int(rng.integers(1, 3)), int(rng.integers(3, 6))),
            accounts_per_exit=int(rng.integers(2, 9)),
            email_style=("name_digits_webmail", "word_pattern")[int(rng.integers(2))],
            prepaid_share=1.0,
        )  # fmt: skip
    if archetype == "coworking_camouflage":  # a coworking NAT and domain shared with genuine
        return Campaign(
            **{**common, "camouflage": round(u(0.3, 0.6), 3)},
            capability_mix=_mix(rng, (0.2, 0.5, 0.3, 0.0, 0.0, 0.0)),
            accounts_per_card=int((0, 4, 8)[int(rng.integers(3))]),
            accounts_per_device=int((0, 1, 5)[int(rng.integers(3))]), accounts_per_address=0,
            exit_kind="coworking", proxy_provider=None, exits_per_account=(1, 2),
            email_style="coworking", prepaid_share=round(u(0.0, 0.4), 3),
        )  # fmt: skip
    if archetype == "behaviour_only":  # nothing shared but templates, client build and timing
        return Campaign(
            **{**common, "synchronised": True, "cards_per_account": (1, 1),
               "client_builds": int(rng.integers(1, 3)), "templates": int(rng.integers(2, 7))},
            capability_mix=_mix(rng, (0.6, 0.2, 0.1, 0.0, 0.1, 0.0)),
            accounts_per_card=0, accounts_per_device=int(rng.integers(0, 2)),
            accounts_per_address=0, exit_kind="residential", proxy_provider=None,
            exits_per_account=(1, 1), email_style="name_digits_webmail",
            prepaid_share=round(u(0.0, 0.5), 3),
        )  # fmt: skip
    return Campaign(  # hosting_farm: cloud exits, shared cards, company-looking domains
        **common, capability_mix=_mix(rng, coding), accounts_per_card=int(rng.integers(3, 16)),
        accounts_per_device=int((0, 0, 4)[int(rng.integers(3))]),
        accounts_per_address=int((0, 30)[int(rng.integers(2))]), exit_kind="hosting",
        proxy_provider=None, exits_per_account=(1, 2), email_style="custom_domains",
        prepaid_share=round(u(0.2, 0.8), 3),
    )  # fmt: skip


def draw_campaigns(
    rng: np.random.Generator, fake_total: int, regrowth: bool = False
) -> tuple[Campaign, ...]:
    """4-7 networks adding up to `fake_total` accounts; every archetype appears when there are
    five or more, in a random order (so the large one can be any of them).

    `regrowth`: one more network (on top of `fake_total`), the operator of a drawn one coming
    back late in the window (days 18-23, after a network that starts in the first week has
    been flagged and, in a replay, confirmed) with fresh accounts, cards, devices and
    addresses on the old exits, client builds, templates and daily window; 10-30% of the old
    network's size. Drawn after everything else, so the other networks are the same draw."""
    networks = int(rng.integers(4, 8))
    sizes = _sizes(rng, fake_total, networks)
    kinds = [ARCHETYPES[i % len(ARCHETYPES)] for i in rng.permutation(networks)]
    drawn = tuple(
        _campaign(rng, i, kind, n) for i, (kind, n) in enumerate(zip(kinds, sizes, strict=True))
    )
    if regrowth:
        drawn = _regrowth(rng, drawn, networks)
    # From a stream of its own (a child of `rng`'s seed, which leaves `rng`'s stream as it
    # was), so every other parameter is the draw it was before this tactic existed, with or
    # without a regrowth: half the networks put part of their accounts (or all) on popular SDK
    # builds, where the operator's own builds would mark them (`pipeline.owned_build_ties`).
    # A regrowth keeps its operator's choice.
    side = rng.spawn(1)[0]
    shares = [round(float(side.uniform(0.0, 1.0)), 3) if side.random() < 0.5 else 0.0
              for _ in range(networks)]  # fmt: skip
    return tuple(
        replace(c, public_client=shares[c.regrows if c.regrows >= 0 else i])
        for i, c in enumerate(drawn)
    )


def _regrowth(
    rng: np.random.Generator, drawn: tuple[Campaign, ...], networks: int
) -> tuple[Campaign, ...]:
    home = int(rng.integers(networks))
    old = drawn[home]
    size = max(SMALLEST, int(old.accounts * rng.uniform(0.1, 0.3)))
    back = replace(old, label=f"{old.label}-regrowth", accounts=size, min_accounts=size,
                   signup="burst", regrows=home, first_day=int(rng.integers(18, 24)))  # fmt: skip
    return (*drawn, back)


def draw_sdk_defaults(rng: np.random.Generator) -> SdkDefaults:
    """How many genuine users send their SDK's default prompt (none to a half of those on a
    public build) and how many builds one SDK ships it in (one: a single build holds them
    all; up to eight: each build holds an eighth). The ranges span an SDK whose users rarely
    keep its default and one whose users mostly do, released as one build or many; nothing
    in the generator ties templates to builds otherwise. Then one prompt or two (an agent
    SDK's), drawn last so the first two are what they were before it existed."""
    versions = [v for v in range(1, 9) if SDK_FINGERPRINTS % v == 0]
    share, version = round(float(rng.uniform(0.0, 0.5)), 3), int(rng.choice(versions))
    return SdkDefaults(share, version, int(rng.integers(1, 3)))


def draw_cohorts(rng: np.random.Generator) -> Cohorts:
    """How many of a campus's courses use the API (none to a half), how large a course is (a
    seminar of 15 to a lecture of 300), and how many of them give their students a client of
    their own or pay with one department card (none to all of either). The ranges span a
    campus where a course is rare and one where half its students are in one; a course with
    its own tool and credits shares a build and a card, as a network does."""
    return Cohorts(
        share=round(float(rng.uniform(0.0, 0.5)), 3),
        size=int(rng.integers(15, 301)),
        tool=round(float(rng.uniform(0.0, 1.0)), 3),
        credits=round(float(rng.uniform(0.0, 1.0)), 3),
    )
