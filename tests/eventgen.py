"""A small, deterministic population of v1 events for tests: shared cards, shared IPs,
repeated templates, a model release, billing before signup once shuffled, and duplicates."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

BASE = datetime(2026, 2, 1, tzinfo=UTC)


def _t(seconds: int) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def population(accounts: int = 60, usage_per_account: int = 20, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    events: list[dict[str, object]] = [
        {"type": "model_release", "event_id": "rel-frontier-2", "occurred_at": _t(9 * 86400),
         "model": "frontier-2"},
    ]  # fmt: skip
    for i in range(accounts):
        account = f"acct-{i:04d}"
        group = i // 6  # six accounts share a card, an exit IP and a template
        ip = f"198.51.{group}.{10 + i % 3}"
        signup_t = rng.randrange(86400 * 3)
        events.append(
            {"type": "signup", "event_id": f"{account}-signup", "account_id": account,
             "occurred_at": _t(signup_t), "email": f"User.{i}+{rng.randrange(9)}@GMail.com",
             "ip": ip, "ip_asn": 64500 + group, "ip_kind": "proxy" if group % 2 else "residential",
             "proxy_provider": "relaybridge" if group % 2 else None,
             "device_id": f"dev-{group}-{i % 2}", "country": "SG", "phone": f"+6591{i:06d}"},
        )  # fmt: skip
        events.append(
            {"type": "billing", "event_id": f"{account}-bill", "account_id": account,
             "occurred_at": _t(signup_t + 60), "payment_fingerprint": f"pm-{group}",
             "card_funding": "prepaid" if group % 3 == 0 else "credit", "card_bin": "535522",
             "amount_minor": 500 + i, "status": "disputed" if i % 11 == 0 else "succeeded",
             "billing_address_hash": f"addr-{group}", "ip": ip},
        )  # fmt: skip
        events.append(
            {"type": "session", "event_id": f"{account}-sess", "account_id": account,
             "occurred_at": _t(signup_t + 120), "ip": f"2001:db8:{group:x}::{i:x}",
             "device_id": f"dev-{group}-{i % 2}"},
        )  # fmt: skip
        template = (0x9F3A0C4412BE7D01 + group) ^ (1 << (i % 3))
        for j in range(usage_per_account):
            events.append(
                {"type": "usage", "event_id": f"{account}-u{j}", "account_id": account,
                 "occurred_at": _t(signup_t + 3600 * (1 + j * 7)),
                 "model": "frontier-2" if j % 2 else "frontier-1",
                 "input_tokens": 100 + j, "output_tokens": 200 + i, "ip": ip,
                 "client_fingerprint": f"cf-{group}", "prompt_signature": f"{template:016x}",
                 "capability": ["reasoning", "coding", "agentic_tool_use"][j % 3],
                 "cot_elicitation": j % 4 == 0, "tool_calls": j % 3},
            )  # fmt: skip
    rng.shuffle(events)
    return [json.dumps({k: v for k, v in e.items() if v is not None}) for e in events]
