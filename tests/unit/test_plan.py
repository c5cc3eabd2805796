import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.events.contract import Event, parse_event
from backend.ingest.plan import Fold, build_plan, fold
from tests.eventgen import population

EVENTS: list[Event] = [parse_event(line) for line in population(accounts=12, usage_per_account=5)]


def _canonical(events: list[Event]) -> str:
    return json.dumps(build_plan(events).__dict__, sort_keys=True, default=str)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_plan_is_independent_of_event_order(rnd: random.Random) -> None:
    shuffled = EVENTS[:]
    rnd.shuffle(shuffled)
    assert _canonical(shuffled) == _canonical(EVENTS)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=8))
def test_merged_folds_of_any_split_equal_the_fold_of_all(rnd: random.Random, parts: int) -> None:
    """What the journal relies on: batches folded apart, carried as JSON, merged in any order,
    write exactly what one batch of all their events would (repeats included)."""
    events = EVENTS + rnd.sample(EVENTS, 10)  # redelivered events folded into other batches
    rnd.shuffle(events)
    cuts = sorted(rnd.randrange(len(events) + 1) for _ in range(parts - 1))
    pieces = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    rnd.shuffle(pieces)
    merged = Fold()
    for piece in pieces:
        merged.merge_state(json.loads(json.dumps(fold(piece).to_state())))
    expected = json.dumps(fold(events).build().__dict__, sort_keys=True, default=str)
    assert json.dumps(merged.build().__dict__, sort_keys=True, default=str) == expected
    assert merged.events == len(events)


def test_split_batches_add_up_to_one_batch() -> None:
    whole = build_plan(EVENTS)
    halves = [build_plan(EVENTS[: len(EVENTS) // 2]), build_plan(EVENTS[len(EVENTS) // 2 :])]
    for account in whole.counters:
        parts = [c for half in halves for c in half.counters if c["id"] == account["id"]]
        for name, value in account["counters"].items():
            assert sum(part["counters"][name] for part in parts) == value
        assert [sum(h) for h in zip(*(p["hours"] for p in parts), strict=True)] == account["hours"]


def test_usage_folds_into_account_behaviour() -> None:
    plan = build_plan(EVENTS)
    first = next(c for c in plan.counters if c["id"] == "acct-0000")["counters"]
    assert first["exchanges"] == 5
    assert first["tokens_in"] == sum(100 + j for j in range(5))
    assert first["cap_reasoning"] + first["cap_coding"] + first["cap_agentic_tool_use"] == 5
    assert first["cot_elicitations"] == 2  # j = 0, 4
    assert first["tool_calls"] == sum(j % 3 for j in range(5))
    models = {(r["account"], r["key"]): r["n"] for r in plan.links["USED_MODEL"]}
    assert models[("acct-0000", "frontier-1")] == 3
    assert models[("acct-0000", "frontier-2")] == 2
    bands = [r for r in plan.links["USED_TEMPLATE"] if r["account"] == "acct-0000"]
    assert len(bands) == 4 and all(r["n"] == 5 for r in bands)


def test_identity_links_and_props() -> None:
    plan = build_plan(EVENTS)
    paid = {r["account"]: r["key"] for r in plan.links["PAID_WITH"]}
    assert paid["acct-0000"] == paid["acct-0005"] == "pm-0"
    emails = {r["account"]: r["key"] for r in plan.links["HAS_EMAIL"]}
    assert emails["acct-0001"] == "user.1@gmail.com".replace(".", "", 1)
    assert {r["key"] for r in plan.links["EMAIL_DOMAIN"]} == {"gmail.com"}
    signup = next(s for s in plan.signups if s["id"] == "acct-0003")
    assert signup["props"]["phone"] == "+6591000003"
    assert plan.model_releases[0]["key"] == "frontier-2"


def test_earliest_signup_and_latest_enrichment_win_whatever_the_order() -> None:
    base = {"type": "signup", "account_id": "a", "email": "x@y.com", "ip": "1.2.3.4"}
    early = parse_event(json.dumps({**base, "event_id": "e1", "occurred_at": "2026-01-01T00:00:00Z",
                                    "country": "FR", "ip_kind": "vpn"}))  # fmt: skip
    late = parse_event(json.dumps({**base, "event_id": "e2", "occurred_at": "2026-01-02T00:00:00Z",
                                   "country": "DE", "ip_kind": "hosting"}))  # fmt: skip
    for order in ([early, late], [late, early]):
        plan = build_plan(order)
        assert plan.signups[0]["props"]["country"] == "FR"
        assert plan.identifier_props["IP"][0]["props"]["kind"] == "hosting"
