import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.events.contract import Event, parse_event
from backend.graph.model import LINKS
from backend.ingest.plan import IDENTIFIER_PROPERTIES, SIGNUP_PROPERTIES, Fold, build_plan, fold
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


def test_email_shape_does_not_depend_on_which_spelling_came_first() -> None:
    base = json.loads(next(line for line in population(accounts=1) if '"signup"' in line))
    spellings = [
        {**base, "event_id": "s1", "email": "j.doe7@gmail.com"},
        {**base, "event_id": "s2", "account_id": "other", "email": "jdoe7@gmail.com"},
    ]
    events = [parse_event(json.dumps(event)) for event in spellings]
    forward, backward = build_plan(events), build_plan(events[::-1])
    assert forward.emails == backward.emails
    assert [row["local_shape"] for row in forward.emails] == ["a.a9"]


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=1, max_value=7))
def test_split_state_parts_merge_into_the_whole_and_own_each_node_once(parts: int) -> None:
    """What the bulk backfill relies on: parts merged apart hold, between them, exactly the
    rows of the whole fold, and every identifier node is listed by exactly one part."""
    whole = fold(EVENTS)
    pieces = whole.split_state(parts)
    rows: dict[str, list[object]] = {}
    listed: list[tuple[str, str]] = []
    for state in json.loads(json.dumps(pieces)):
        listed += [(label, key) for label, key, _ in state.pop("nodes")]
        merged = Fold()
        merged.merge_state(state)
        for name, value in merged.build().__dict__.items():
            if isinstance(value, dict):
                for sub, sub_rows in value.items():
                    rows.setdefault(f"{name}.{sub}", []).extend(sub_rows)
            elif isinstance(value, list):
                rows.setdefault(name, []).extend(value)
    expected = whole.build()
    for name, value in expected.__dict__.items():
        if isinstance(value, dict):
            for sub, sub_rows in value.items():
                assert sorted(map(str, rows[f"{name}.{sub}"])) == sorted(map(str, sub_rows))
        elif isinstance(value, list):
            assert sorted(map(str, rows.get(name, []))) == sorted(map(str, value)), name
    assert len(listed) == len(set(listed))
    linked = {(LINKS[rel], row["key"]) for rel, rs in expected.links.items() for row in rs}
    assert linked <= set(listed)


def test_the_property_lists_name_what_the_fold_writes() -> None:
    plan = build_plan(EVENTS)
    assert {key for row in plan.signups for key in row["props"]} == set(SIGNUP_PROPERTIES)
    for label, rows in plan.identifier_props.items():
        assert {key for row in rows for key in row["props"]} == set(IDENTIFIER_PROPERTIES[label])
