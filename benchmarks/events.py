"""Synthetic events in the v1 contract for the ingest benchmark (not the realistic seed)."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.events.contract import CAPABILITIES

BASE = datetime(2026, 2, 1, tzinfo=UTC)
DOMAINS = ("gmail.com", "corp.example", "mail.test")
IP_KINDS = ("residential", "mobile", "business", "hosting", "vpn", "proxy")


def _ts(rng: random.Random) -> str:
    return (BASE + timedelta(seconds=rng.randrange(30 * 86400))).isoformat().replace("+00:00", "Z")


def _ip(rng: random.Random, accounts: int) -> str:
    n = rng.randrange(max(accounts // 3, 1))
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def identity_event(rng: random.Random, i: int, accounts: int) -> dict[str, object]:
    account = f"acc-{rng.randrange(accounts):07d}"
    kind = ("signup", "session", "billing")[i % 3]
    event: dict[str, object] = {
        "type": kind, "event_id": f"id-{i:09d}", "occurred_at": _ts(rng), "account_id": account,
    }  # fmt: skip
    if kind == "signup":
        event.update(
            email=f"User.{rng.randrange(accounts * 2)}+x@{rng.choice(DOMAINS)}",
            ip=_ip(rng, accounts), ip_asn=64500 + rng.randrange(200), ip_kind=rng.choice(IP_KINDS),
            device_id=f"dev-{rng.randrange(accounts):x}", country="US", signup_channel="web",
        )  # fmt: skip
    elif kind == "session":
        event.update(ip=_ip(rng, accounts), device_id=f"dev-{rng.randrange(accounts):x}")
    else:
        event.update(
            payment_fingerprint=f"pm-{rng.randrange(accounts):x}", payment_kind="card",
            card_bin="535522", card_funding=rng.choice(["credit", "debit", "prepaid"]),
            card_country="US", amount_minor=rng.randrange(100, 5000), currency="USD",
            billing_address_hash=f"addr-{rng.randrange(accounts):x}", ip=_ip(rng, accounts),
        )  # fmt: skip
    return event


def usage_event(rng: random.Random, i: int, accounts: int) -> dict[str, object]:
    """An account keeps a small profile (2 exits, 1 client, 3 templates), as real ones do."""
    n = rng.randrange(accounts)
    profile = random.Random(n)
    ips = [_ip(profile, accounts) for _ in range(2)]
    templates = [profile.getrandbits(64) for _ in range(3)]
    return {
        "type": "usage", "event_id": f"u-{i:010d}", "occurred_at": _ts(rng),
        "account_id": f"acc-{n:07d}", "model": rng.choice(["frontier-1", "frontier-2"]),
        "input_tokens": rng.randrange(50, 4000), "output_tokens": rng.randrange(50, 4000),
        "ip": rng.choice(ips), "client_fingerprint": f"cf-{profile.randrange(500):x}",
        "prompt_signature": f"{rng.choice(templates) ^ (1 << rng.randrange(64)):016x}",
        "capability": rng.choice(CAPABILITIES), "cot_elicitation": rng.random() < 0.1,
        "tool_calls": rng.randrange(4),
    }  # fmt: skip


def write(path: Path, kind: str, events: int, accounts: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    make = identity_event if kind == "identity" else usage_event
    with gzip.open(path, "wt", compresslevel=1) as out:
        for i in range(events):
            out.write(json.dumps(make(rng, i, accounts), separators=(",", ":")) + "\n")
    return path
