"""The seed generator: determinism, contract validity, and every trap and campaign present at the
sizes and proportions `seed/README.md` states (checked on the events, not the generator's state)."""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from backend.events.contract import parse_event
from seed import identifiers as ids
from seed import scenarios as sc
from seed.generate import generate
from seed.split import split

SMALL = sc.PRESETS["small"]


def _read(out: Path) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    with gzip.open(out / "events.jsonl.gz", "rb") as f:
        events = [json.loads(line) for line in f]
    labels = {}
    for line in (out / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["account_id"]] = row["campaign"]
    return events, labels


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    out = tmp_path_factory.mktemp("seed-small")
    generate(SMALL.accounts, 11, out, SMALL.usage_scale)
    return _read(out)


def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(3000, 5, a, 0.05)
    generate(3000, 5, b, 0.05)
    generate(3000, 6, c, 0.05)
    for name in ("events.jsonl.gz", "labels.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "events.jsonl.gz").read_bytes() != (c / "events.jsonl.gz").read_bytes()
    assert (a / "labels.jsonl").read_bytes() != (c / "labels.jsonl").read_bytes()


def test_too_few_accounts_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="genuine"):
        generate(500, 1, tmp_path, 1.0)


def test_full_preset_matches_the_reported_campaigns() -> None:
    sizes = sc.campaign_sizes(sc.PRESETS["full"].accounts)
    assert sum(sizes) == 24_000
    assert sc.PRESETS["full"].accounts - sum(sizes) == 1_000_000
    exchanges = Counter[str]()
    for camp, n in zip(sc.CAMPAIGNS, sizes, strict=True):
        exchanges[camp.operation.split(",")[0]] += int(n * camp.exchanges_per_account)
    total = sum(exchanges.values())
    assert 16_000_000 <= total <= 17_000_000
    assert 140_000 <= exchanges["reasoning traces and policy-sensitive answers"] <= 160_000
    assert 3_300_000 <= exchanges["agentic reasoning"] <= 3_500_000
    assert 12_500_000 <= total - 3_550_000 <= 13_500_000  # the agentic-coding operation
    hydra = sum(
        n for camp, n in zip(sc.CAMPAIGNS, sizes, strict=True) if camp.label.startswith("hydra")
    )
    assert hydra >= 20_000  # "one proxy network ran 20,000+ accounts"


def test_every_event_is_valid_and_delivery_is_realistic(small: Any) -> None:
    events, labels = small
    for event in events:
        parse_event(json.dumps(event))
    kinds = Counter(e["type"] for e in events)
    assert set(kinds) == {"signup", "session", "billing", "usage", "model_release"}
    assert kinds["signup"] - len(labels) == sum(1 for e in events if e["type"] == "signup") - len(
        {e["account_id"] for e in events if e["type"] == "signup"}
    )  # only redeliveries repeat a signup
    ids_seen = Counter(e["event_id"] for e in events)
    redelivered = sum(1 for n in ids_seen.values() if n > 1)
    assert 0.002 < redelivered / len(ids_seen) < 0.008
    first_seen: dict[str, str] = {}
    for e in events:
        if "account_id" in e:
            first_seen.setdefault(e["account_id"], e["type"])
    assert sum(1 for t in first_seen.values() if t != "signup") > len(first_seen) / 2
    assert set(first_seen) == set(labels)


def _by_account(events: list[dict[str, Any]], kind: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["type"] == kind:
            out[e["account_id"]].append(e)
    return out


def test_campaign_sizes_and_genuine_share(small: Any) -> None:
    _, labels = small
    counts = Counter(labels.values())
    expected = sc.campaign_sizes(SMALL.accounts)
    for camp, n in zip(sc.CAMPAIGNS, expected, strict=True):
        assert counts[camp.label] == n
    assert counts[None] == SMALL.accounts - sum(expected)
    assert 0.97 < counts[None] / SMALL.accounts < 0.985


def test_genuine_traps(small: Any) -> None:
    events, labels = small
    signups = {e["account_id"]: e for e in events if e["type"] == "signup"}
    genuine = {a for a, c in labels.items() if c is None}

    # Companies: whole teams on one corporate card, one NAT, one domain, onboarding-day signup.
    corp = defaultdict(set)
    for e in events:
        if e["type"] == "billing" and e["card_bin"] == ids.CORPORATE_BIN:
            corp[e["payment_fingerprint"]].add(e["account_id"])
    teams = [t for t in corp.values() if len(t) >= 10]
    assert teams and all(t <= genuine for t in corp.values())
    team = max(teams, key=len)
    domains = {signups[a]["email"].split("@")[1] for a in team}
    nats = {signups[a]["ip"] for a in team}
    assert len(domains) == 1 and len(nats) <= 2
    times = sorted(datetime.fromisoformat(signups[a]["occurred_at"]) for a in team)
    within_2h = max(sum(1 for t in times if 0 <= (t - s).total_seconds() <= 7200) for s in times)
    assert within_2h >= 0.5 * len(team)

    # Carrier NAT and VPN: one address shared by a hundred strangers or more.
    by_ip = defaultdict(set)
    kind_of = {}
    for e in events:
        if "ip" in e and "account_id" in e:
            by_ip[e["ip"]].add(e["account_id"])
            kind_of[e["ip"]] = e.get("ip_kind")
    assert max(len(v) for ip, v in by_ip.items() if kind_of[ip] == "mobile") >= 100
    assert max(len(v) for ip, v in by_ip.items() if kind_of[ip] == "vpn") >= 50

    # Proxy resellers: the hydra networks' exits carry genuine customers' traffic too.
    mixed = [
        ip for ip, accts in by_ip.items() if kind_of[ip] == "proxy"
        and any(labels[a] is None for a in accts) and any((labels[a] or "").startswith("hydra") for a in accts)
    ]  # fmt: skip
    assert len(mixed) >= 10

    # Popular public templates: one signature used by many unrelated genuine accounts.
    users = defaultdict(set)
    for e in events:
        if e["type"] == "usage" and labels[e["account_id"]] is None:
            users[e["prompt_signature"]].add(e["account_id"])
    assert max(len(v) for v in users.values()) >= 30

    # Prepaid cards among genuine customers; households sharing a card.
    funding = {e["account_id"]: e["card_funding"] for e in events if e["type"] == "billing"}
    prepaid = sum(1 for a in genuine if funding.get(a) == "prepaid") / len(genuine)
    assert 0.02 < prepaid < 0.07
    cards = defaultdict(set)
    for e in events:
        if (
            e["type"] == "billing"
            and e["account_id"] in genuine
            and e["card_bin"] != ids.CORPORATE_BIN
        ):
            cards[e["payment_fingerprint"]].add(e["account_id"])
    assert sum(1 for v in cards.values() if 2 <= len(v) <= 4) >= 50

    # Heavy tail: the top 1% of genuine accounts make far more exchanges than the median.
    usage = Counter(
        e["account_id"] for e in events if e["type"] == "usage" and e["account_id"] in genuine
    )
    volumes = sorted(usage.values())
    assert volumes[int(len(volumes) * 0.995)] >= 5 * volumes[len(volumes) // 2]


def _new_model_stats(events: list[dict[str, Any]], accounts: set[str]) -> tuple[float, float]:
    """Share of post-release exchanges on the new model; median hours to first use of it, for
    accounts that existed at the release."""
    release = sc.NEW_RELEASE
    accounts = {e["account_id"] for e in events if e["type"] == "signup" and e["account_id"] in accounts
                and datetime.fromisoformat(e["occurred_at"]) < release}  # fmt: skip
    after = [e for e in events if e["type"] == "usage" and e["account_id"] in accounts
             and datetime.fromisoformat(e["occurred_at"]) > release]  # fmt: skip
    share = sum(1 for e in after if e["model"] == sc.NEW_MODEL) / max(1, len(after))
    first: dict[str, datetime] = {}
    for e in after:
        if e["model"] == sc.NEW_MODEL:
            t = datetime.fromisoformat(e["occurred_at"])
            first[e["account_id"]] = min(first.get(e["account_id"], t), t)
    lags = sorted((t - release).total_seconds() / 3600 for t in first.values())
    return share, lags[len(lags) // 2] if lags else float("inf")


def test_campaign_tactics(small: Any) -> None:
    events, labels = small
    members = defaultdict(set)
    for a, c in labels.items():
        members[c].add(a)
    usage = _by_account(events, "usage")
    billing = _by_account(events, "billing")
    signups = {e["account_id"]: e for e in events if e["type"] == "signup"}

    def cot_rate(camp: str) -> float:
        rows = [u for a in members[camp] for u in usage[a]]
        return sum(u["cot_elicitation"] for u in rows) / len(rows)

    # Reasoning traces: CoT-heavy, shared cards, synchronised hours.
    assert cot_rate("reasoning-1") > 0.6 and cot_rate(None) < 0.1
    cards = Counter(b["payment_fingerprint"] for a in members["reasoning-1"] for b in billing[a])
    assert len(cards) <= len(members["reasoning-1"]) / 3
    hours = Counter(int(u["occurred_at"][11:13]) for a in members["reasoning-1"] for u in usage[a])
    assert sum(n for _, n in hours.most_common(3)) / sum(hours.values()) > 0.7

    # The large operation moves about half its traffic to the new model within a day; genuine
    # customers drift over days.
    for camp in ("coding-1", "hydra-1"):
        share, lag = _new_model_stats(events, members[camp])
        assert 0.4 < share < 0.7 and lag < 24, camp
    share, lag = _new_model_stats(events, members[None])
    assert lag > 72

    # Card rotation in hydra-2: no card shared, several per account on average.
    holders = defaultdict(set)
    for a in members["hydra-2"]:
        for b in billing[a]:
            holders[b["payment_fingerprint"]].add(a)
    assert max(len(v) for v in holders.values()) == 1
    assert len(holders) > 1.5 * len(members["hydra-2"])
    # hydra-3 is API-only; hydra-1 uses disposable inboxes; agentic-1 mixes exit kinds.
    assert all("device_id" not in signups[a] for a in members["hydra-3"])
    assert all(signups[a]["email"].split("@")[1] in ids.DISPOSABLE for a in members["hydra-1"])
    kinds = Counter(signups[a]["ip_kind"] for a in members["agentic-1"])
    assert {"hosting", "proxy", "residential"} <= set(kinds)
    # Every fake account uses the network's own templates; no fake shares a genuine template.
    fake_templates = {
        u["prompt_signature"] for c, accts in members.items() if c for a in accts for u in usage[a]
    }
    genuine_templates = {u["prompt_signature"] for a in members[None] for u in usage[a]}
    assert not fake_templates & genuine_templates


def test_every_mailbox_belongs_to_one_account(small: Any) -> None:
    from backend.normalise.identifiers import normalise_email

    events, _ = small
    owners = defaultdict(set)
    for e in events:
        if e["type"] == "signup":
            owners[normalise_email(e["email"]).mailbox].add(e["account_id"])
    assert max(len(v) for v in owners.values()) == 1


def test_split_cuts_the_last_lines_off_as_the_delta(tmp_path: Path) -> None:
    lines = [f'{{"n": {i}}}\n'.encode() for i in range(200)]
    with gzip.open(tmp_path / "events.jsonl.gz", "wb") as f:
        f.writelines(lines)
    assert split(tmp_path, 0.05) == (190, 10)
    history = gzip.decompress((tmp_path / "history.jsonl.gz").read_bytes())
    delta = gzip.decompress((tmp_path / "delta.jsonl.gz").read_bytes())
    assert history + delta == b"".join(lines)
    assert delta.splitlines()[0] == b'{"n": 190}'
