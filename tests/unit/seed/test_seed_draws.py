"""Randomly drawn fake networks (`seed.draws`): sizes, variety, determinism, and that every new
tactic shows in the events it produces."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from backend.events.contract import parse_event
from seed import identifiers as ids
from seed.draws import (
    ARCHETYPES,
    LARGEST,
    SMALLEST,
    draw_campaigns,
    draw_cohorts,
    draw_sdk_defaults,
)
from seed.generate import generate
from seed.scenarios import SDK_FINGERPRINTS, Cohorts, SdkDefaults


def test_draws_add_up_vary_and_repeat() -> None:
    seen: set[str] = set()
    for draw in range(30):
        campaigns = draw_campaigns(np.random.default_rng([3, draw]), 20_000)
        sizes = [c.accounts for c in campaigns]
        assert sum(sizes) == 20_000 and 4 <= len(sizes) <= 7
        assert max(sizes) <= LARGEST and min(sizes) >= SMALLEST
        if len(sizes) >= len(ARCHETYPES):
            assert {c.operation for c in campaigns} == set(ARCHETYPES)
        seen |= {f"{c.exit_kind}/{c.accounts_per_card}/{c.camouflage}" for c in campaigns}
    assert len(seen) > 100  # parameters are drawn, not picked from a few presets
    again = draw_campaigns(np.random.default_rng([3, 0]), 20_000)
    assert again == draw_campaigns(np.random.default_rng([3, 0]), 20_000)


def test_drawn_tactics_show_in_the_events(tmp_path: Path) -> None:
    campaigns = draw_campaigns(np.random.default_rng([5, 1]), 1_500)
    generate(6_000, 2, tmp_path, 0.05, campaigns=campaigns)
    labels = {}
    for line in (tmp_path / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["account_id"]] = row["campaign"]
    assert {c for c in labels.values() if c} == {c.label for c in campaigns}
    ip_kinds: dict[str, set[str]] = defaultdict(set)
    with gzip.open(tmp_path / "events.jsonl.gz", "rt") as events:
        for line in events:
            event = parse_event(line)  # every line meets the contract
            campaign = labels.get(getattr(event, "account_id", ""))
            kind = getattr(event, "ip_kind", None)
            if campaign and kind:
                ip_kinds[campaign].add(kind.value)
    for c in campaigns:
        expected = {"rotating_residential": {"residential"}, "coworking": {"business"},
                    "residential": {"residential"}, "hosting": {"hosting"},
                    "proxy": {"proxy"}}[c.exit_kind]  # fmt: skip
        assert ip_kinds[c.label] <= expected | {"residential"}, (c.label, ip_kinds[c.label])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["drawn_campaigns"]) == len(campaigns)


def test_a_regrowth_returns_on_the_old_infrastructure_with_fresh_accounts(tmp_path: Path) -> None:
    base = draw_campaigns(np.random.default_rng([5, 2]), 1_500)
    campaigns = draw_campaigns(np.random.default_rng([5, 2]), 1_500, regrowth=True)
    assert campaigns[:-1] == base  # the other networks are the same draw
    back = campaigns[-1]
    home = campaigns[back.regrows]
    assert back.label == f"{home.label}-regrowth" and back.first_day >= 18
    generate(6_000, 3, tmp_path, 0.05, campaigns=campaigns)
    labels = {}
    for line in (tmp_path / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["account_id"]] = row["campaign"]
    held: dict[str, dict[str, set[str]]] = {c.label: defaultdict(set) for c in (back, home)}
    signups: dict[str, list[float]] = defaultdict(list)
    with gzip.open(tmp_path / "events.jsonl.gz", "rt") as handle:
        for line in handle:
            event = parse_event(line)
            group = labels.get(getattr(event, "account_id", "") or "")
            if group not in held:
                continue
            if event.type == "usage" and event.client_fingerprint:
                held[group]["client"].add(event.client_fingerprint)
            if event.type == "billing" and event.payment_fingerprint:
                held[group]["card"].add(event.payment_fingerprint)
            if event.type == "signup":
                signups[group].append(event.occurred_at.timestamp())
    old, new = held[home.label], held[back.label]
    # The same client builds (its accounts on popular SDK builds aside: `public_client`).
    sdk = {ids.hexid("cf-", ids.NS_CLIENT, i, 8) for i in range(SDK_FINGERPRINTS)}
    assert new["client"] - sdk <= old["client"]
    assert new["card"] and not new["card"] & old["card"]  # fresh cards
    # Late in the window: its first signup at least ten days after the old network's.
    assert min(signups[back.label]) - min(signups[home.label]) >= 10 * 86_400


def test_a_network_on_popular_sdk_builds_shares_them_with_genuine_users(tmp_path: Path) -> None:
    from dataclasses import replace

    drawn = [draw_campaigns(np.random.default_rng([7, d]), 20_000) for d in range(20)]
    shares = [c.public_client for campaigns in drawn for c in campaigns]
    assert 0 < sum(s == 0 for s in shares) < len(shares)  # half the networks, not all
    assert all(0.0 <= s <= 1.0 for s in shares)
    base = draw_campaigns(np.random.default_rng([5, 1]), 1_500)
    public, own = replace(base[0], public_client=1.0), replace(base[1], public_client=0.0)
    generate(6_000, 2, tmp_path, 0.05, campaigns=(public, own, *base[2:]))
    campaign_of = {}
    for line in (tmp_path / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        campaign_of[row["account_id"]] = row["campaign"]
    holders: dict[str, set[str]] = defaultdict(set)
    with gzip.open(tmp_path / "events.jsonl.gz", "rt") as events:
        for line in events:
            row = json.loads(line)
            if row.get("client_fingerprint"):
                holders[row["client_fingerprint"]].add(campaign_of.get(row["account_id"]) or "")
    of = {label: {b for b, h in holders.items() if label in h} for label in (public.label,
                                                                            own.label)}  # fmt: skip
    assert of[public.label] and all("" in holders[b] for b in of[public.label])  # genuine too
    assert of[own.label] and all(holders[b] == {own.label} for b in of[own.label])


@pytest.mark.parametrize("prompts", [1, 2])
def test_genuine_users_on_an_sdk_send_its_default_prompts_over_its_builds(
    tmp_path: Path, prompts: int
) -> None:
    drawn = [draw_sdk_defaults(np.random.default_rng([7, d])) for d in range(40)]
    assert all(0.0 <= d.share <= 0.5 and SDK_FINGERPRINTS % d.versions == 0 for d in drawn)
    assert len({d.versions for d in drawn}) > 2
    assert {d.prompts for d in drawn} == {1, 2}
    campaigns = draw_campaigns(np.random.default_rng([5, 1]), 1_500)
    generate(6_000, 2, tmp_path, 0.05, campaigns=campaigns, sdk=SdkDefaults(0.4, 4, prompts))
    campaign_of = {}
    for line in (tmp_path / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        campaign_of[row["account_id"]] = row["campaign"]
    defaults = {ids.mix(ids.NS_TEMPLATE, (p << 40) + k): (k, p)
                for k in range(SDK_FINGERPRINTS // 4) for p in (5, 7)[:prompts]}  # fmt: skip
    builds: dict[int, set[str]] = defaultdict(set)
    senders: dict[tuple[int, int], set[str]] = defaultdict(set)
    with gzip.open(tmp_path / "events.jsonl.gz", "rt") as events:
        for line in events:
            row = json.loads(line)
            if row["type"] != "usage":
                continue
            # Up to three bits flipped per exchange: near-identical to the default.
            near = [k for t, k in defaults.items()
                    if bin(t ^ int(row["prompt_signature"], 16)).count("1") <= 3]  # fmt: skip
            if near:
                assert campaign_of.get(row["account_id"]) is None  # genuine users only
                builds[near[0][0]].add(row["client_fingerprint"])
                senders[near[0]].add(row["account_id"])
    sdk_builds = [ids.hexid("cf-", ids.NS_CLIENT, i, 8) for i in range(SDK_FINGERPRINTS)]
    assert len(senders) == prompts * SDK_FINGERPRINTS // 4  # every SDK's defaults are sent
    for k, seen in builds.items():  # by users of that SDK's four builds, and only those
        assert seen == set(sdk_builds[4 * k : 4 * k + 4])
    genuine = sum(c is None for c in campaign_of.values())
    users = set().union(*senders.values())
    assert 0.15 * genuine < len(users) < 0.45 * genuine
    if prompts == 2:  # an agent SDK's users send both, most of them
        both = sum(len(senders[k, 5] & senders[k, 7]) for k in range(SDK_FINGERPRINTS // 4))
        assert both > 0.8 * len(users)


def test_a_courses_students_share_its_template_tool_credits_lab_and_first_day(
    tmp_path: Path,
) -> None:
    drawn = [draw_cohorts(np.random.default_rng([7, d])) for d in range(40)]
    assert all(0.0 <= d.share <= 0.5 and 15 <= d.size <= 300 for d in drawn)
    assert all(0.0 <= d.tool <= 1.0 and 0.0 <= d.credits <= 1.0 for d in drawn)
    campaigns = draw_campaigns(np.random.default_rng([5, 1]), 1_500)
    generate(8_000, 2, tmp_path, 0.05, campaigns=campaigns, cohorts=Cohorts(0.5, 20, 1.0, 1.0))
    students: dict[str, set[str]] = defaultdict(set)  # the course's own build -> accounts
    cards: dict[str, set[str]] = defaultdict(set)
    signup: dict[str, float] = {}
    hours: dict[str, list[float]] = defaultdict(list)
    signatures: dict[str, list[int]] = defaultdict(list)
    mail: dict[str, str] = {}
    with gzip.open(tmp_path / "events.jsonl.gz", "rt") as events:
        for line in events:
            event = parse_event(line)
            account = getattr(event, "account_id", "")
            if event.type == "signup":
                signup[account] = event.occurred_at.timestamp()
                mail[account] = event.email
            elif event.type == "billing":
                cards[account].add(event.payment_fingerprint)
            elif event.type == "usage":
                if (event.client_fingerprint or "").startswith("cf-course-"):
                    students[event.client_fingerprint or ""].add(account)
                hours[account].append(event.occurred_at.hour + event.occurred_at.minute / 60)
                signatures[account].append(int(event.prompt_signature or "0", 16))
    labels = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert not {r["account_id"] for r in labels if r["campaign"]} & set().union(*students.values())
    assert len(students) >= 3
    for course in students.values():
        assert 2 <= len(course) <= 20
        assert all(mail[a].endswith(".edu") for a in course)  # a campus's students
        shared = set.intersection(*(cards[a] for a in course))
        assert len(shared) == 1  # department credits
        times = np.sort([signup[a] for a in course])
        within = max(int(np.sum((times >= t) & (times < t + 7200))) for t in times)
        assert within >= 0.5 * len(course)  # most enrol at the first lab
        # The assignment's template (a bit or so apart each time): half of each student's
        # exchanges (at this usage scale most make one or two), no one else's template.
        sent = [signatures[a] for a in course]

        def takers(t: int, sent: list[list[int]] = sent) -> int:
            return sum(any(bin(t ^ u).count("1") <= 3 for u in mine) for mine in sent)

        assert max(takers(t) for mine in sent for t in mine) >= 0.35 * len(course)
        lab = np.concatenate([hours[a] for a in course])
        spread = np.abs((lab - np.median(lab) + 12) % 24 - 12)
        assert np.mean(spread < 4) > 0.85  # lab hours, not a whole day's
    # Off, no course exists: the populations drawn before this tactic are unchanged.
    generate(8_000, 2, tmp_path / "off", 0.05, campaigns=campaigns)
    with gzip.open(tmp_path / "off" / "events.jsonl.gz", "rt") as events:
        assert not any("cf-course-" in line for line in events)
