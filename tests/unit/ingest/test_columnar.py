"""The backfill's column-wise fold against the contract and `plan.Fold` it stands in for.

What must hold for the fast path to be safe (`backend.ingest.columnar`): every line it takes,
the contract takes too, with the same claim key; and its fold, cut and merged as the backfill
does, equals `plan.Fold` of the validated events, nodes included. Lines mix the forms a
producer sends with the ones that have broken parsers before.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.events.contract import BillingEvent, SessionEvent, UsageEvent
from backend.events.validation import Rejection, validate
from backend.ingest import columnar
from backend.ingest.plan import Fold, merge_span
from backend.ingest.service import claim_key
from backend.normalise.identifiers import prompt_bands
from tests.paths import EXAMPLES

BUDGET = settings(
    max_examples=int(os.environ.get("HERACLES_FUZZ_EXAMPLES", "10000")) // 5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_DROP = object()
ODD: st.SearchStrategy[Any] = st.sampled_from(
    [None, "", " ", "\n", 0, -1, 1.5, True, [], {}, "a" * 5000]
)


def _or_odd(values: list[Any]) -> st.SearchStrategy[Any]:
    """The field's forms (near misses included) drawn as often as all else."""
    return st.sampled_from(values) | st.sampled_from(values) | ODD | st.text(max_size=12)


INSTANTS = [
    "2026-02-26T19:52:59Z", "2026-02-26T23:59:59.999Z", "2026-02-26T00:00:00.123456Z",
    "2026-02-26T19:52:59+05:30", "2026-02-27T01:10:00-08:00", "2026-02-26T19:52:59+19:59",
    "1969-12-31T23:59:59.5Z", "2026-02-26T19:52:59.5Z", "2026-02-26T19:52:59.1234567Z",
    "2026-02-29T10:00:00Z", "2026-02-26 19:52:59Z", "2026-02-26T19:52:59", "2026-02-26t19:52:59z",
    "2026-02-26T24:00:00Z", "2026-02-26T19:52:60Z", "2026-02-26T19:52:59+24:00",
    "2026-02-26T19:52:59Z\n", "0000-01-01T00:00:00Z", "2026-02-26T19:52:59+0530", 1772135579,
    "\uff12026-02-26T19:52:59Z",
]  # fmt: skip
IPS = ["34.1.0.30", "34.1.0.31", "::ffff:34.1.0.30", "2001:db8::1", " 34.1.0.30", "34.1.0",
       "999.1.1.1"]  # fmt: skip
# Every field any of the three types has, in its forms (valid, near misses) and odd values.
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["usage", "session", "billing", "signup", "Usage"]) | ODD,
    "event_id": st.sampled_from(["u-1", "u-2", "x" * 128, "x" * 129]) | st.text(max_size=8),
    "account_id": _or_odd(["a-1", "a-2", "a-3", " a-1"]),
    "occurred_at": st.sampled_from(INSTANTS),
    "ip": _or_odd(IPS),
    "ip_asn": st.sampled_from([16509, 0, 2**32 - 1, 2**32, -1]) | ODD,
    "ip_org": _or_odd(["CloudCo", "Résidence"]),
    "ip_country": _or_odd(["US", "DE", "us", "USA", "US\n"]),
    "ip_kind": _or_odd(["hosting", "residential", "proxy", "Proxy"]),
    "proxy_provider": _or_odd(["relaybridge", " Relay  Bridge ", "  "]),
    "api_key_id": _or_odd(["k-1"]),
    # usage
    "model": _or_odd(["frontier-1", " frontier-2 ", "m" * 129]),
    "input_tokens": st.sampled_from([0, 1, 200, 2**31 - 1, 2**31, 2**40, -1]) | ODD,
    "output_tokens": st.integers(min_value=-2, max_value=5000) | ODD,
    "client_fingerprint": _or_odd(["cf-1", " CF-1 ", "cf-2", "  "]),
    "prompt_signature": _or_odd(["f8358791b7db8375", "F8358791B7DB8375", "f8358791b7db8374",
                                 "f8358791b7db837", "g8358791b7db8375", "f8358791b7db8375\n"]),
    "capability": _or_odd(["reasoning", "coding", "agentic_tool_use", "chat", "Chat"]),
    "cot_elicitation": st.sampled_from([None, True, False, 0, 1, "true"]),
    "tool_calls": st.sampled_from([None, 0, 3, 2**31, -1, False, 2.0]),
    # session
    "user_agent": _or_odd(["Mozilla/5.0", "x" * 4097]),
    "device_id": _or_odd(["dev-1", " DEV-1 ", "dev-2", "  "]),
    # billing
    "payment_fingerprint": _or_odd(["pm-1", " PM-1 ", "pm-2", "  ", "p" * 129]),
    "payment_kind": _or_odd(["card", "wallet", "Card"]),
    "card_bin": _or_odd(["535522", "53552211", "5355", "535522a", "535522\n", "\uff15\uff13\uff15\uff15\uff12\uff12"]),
    "card_last4": _or_odd(["4242", "424", "42424"]),
    "card_funding": _or_odd(["prepaid", "credit", "Prepaid"]),
    "card_country": _or_odd(["US", "us"]),
    "billing_country": _or_odd(["SG", "sg", "SGP"]),
    "billing_postal": _or_odd(["94103", "x" * 4097]),
    "billing_address_hash": _or_odd(["addr-1", " ADDR-1 ", "addr-2", "  "]),
    "amount_minor": st.sampled_from([None, 0, 500, 2**31, -1, True, 5.0]),
    "currency": _or_odd(["USD", "usd", "US", "USDT"]),
    "status": _or_odd(["succeeded", "failed", "refunded", "disputed", "Failed"]),
}  # fmt: skip
ANY = st.fixed_dictionaries({}, optional=FIELDS)
_ENRICHMENT: dict[str, list[Any]] = {
    "ip_asn": [16509, 7922, None], "ip_org": ["CloudCo", None], "ip_country": ["US", None],
    "ip_kind": ["hosting", "proxy", None], "proxy_provider": ["relaybridge", " Relay ", "", None],
}  # fmt: skip


def _plain(kind: str, required: dict[str, Any], optional: dict[str, list[Any]]) -> Any:
    return st.fixed_dictionaries(
        {
            "type": st.just(kind),
            "event_id": st.text("abc0123", min_size=1, max_size=6),
            "account_id": st.sampled_from(["a-1", "a-2", "a-3"]),
            # Before 1970 and after 2286 stamps do not sort as their times (`node_state`).
            "occurred_at": st.sampled_from(
                [
                    *INSTANTS[:8],
                    "1969-12-31T23:59:59.500Z",
                    "1969-12-31T23:59:58.500Z",
                    "2300-01-01T00:00:00Z",
                ]
            ),
            **required,
        },
        optional={name: st.sampled_from(values) for name, values in optional.items()},
    )


# Mostly lines a producer sends: every field of its plain form, so batches fold together.
PLAIN = _plain(
    "usage",
    {"model": st.sampled_from(["frontier-1", " frontier-2 "]),
     "input_tokens": st.integers(min_value=0, max_value=5000),
     "output_tokens": st.integers(min_value=0, max_value=5000)},
    {"ip": IPS[:4], **_ENRICHMENT, "client_fingerprint": ["cf-1", " CF-1 ", "cf-2", None],
     "prompt_signature": ["f8358791b7db8375", "F8358791B7DB8374", "0000ffff0000ffff", None],
     "capability": ["reasoning", "coding", None], "cot_elicitation": [True, False, None],
     "tool_calls": [0, 3, None]},
) | _plain(
    "session",
    {"ip": st.sampled_from(IPS[:4])},
    {**_ENRICHMENT, "device_id": ["dev-1", " DEV-1 ", "dev-2", None], "user_agent": ["UA", None]},
) | _plain(
    "billing",
    {"payment_fingerprint": st.sampled_from(["pm-1", " PM-1 ", "pm-2"])},
    {"ip": IPS[:4], **_ENRICHMENT, "payment_kind": ["card", None], "card_bin": ["535522", None],
     "card_last4": ["4242", None], "card_funding": ["prepaid", None],
     "card_country": ["US", None], "billing_country": ["SG", None],
     "billing_postal": ["94103", None],
     "billing_address_hash": ["addr-1", " ADDR-1 ", "addr-2", "", None],
     "amount_minor": [0, 500, None], "currency": ["USD", None],
     "status": ["succeeded", "failed", "refunded", "disputed", None]},
)  # fmt: skip
# A plain line with one field changed to any form, or dropped: how a bad line usually differs.
ONE_OFF = PLAIN.flatmap(
    lambda event: st.sampled_from(sorted(FIELDS)).flatmap(
        lambda name: (FIELDS[name] | st.just(_DROP)).map(
            lambda value: {k: v for k, v in {**event, name: value}.items() if v is not _DROP}
        )
    )
)
LINES = PLAIN | ONE_OFF | ANY


def _row(line: str) -> columnar.Row | None:
    return columnar.accept(line)


@BUDGET
@given(ONE_OFF | ANY)
def test_what_the_fast_path_takes_the_contract_takes_with_the_same_claim(
    event: dict[str, Any],
) -> None:
    line = json.dumps(event)
    row = _row(line)
    if row is None:
        return
    outcome = validate(line, "f", "line 1")
    assert not isinstance(outcome, Rejection), (line, outcome.describe())
    assert isinstance(outcome, (UsageEvent, SessionEvent, BillingEvent))
    assert (row[columnar.EVENT_ID], row[columnar.DAY]) == claim_key(outcome)


def _nodes(fold: Fold, parts: int) -> list[list[list[Any]]]:
    """Per part, the identifier nodes it creates (`split_state`)."""
    return [sorted(state["nodes"]) for state in fold.split_state(parts)]


def _plan(fold: Fold) -> str:
    return json.dumps(fold.build().__dict__, sort_keys=True, default=str)


@BUDGET
@given(st.lists(LINES, min_size=1, max_size=40), st.integers(min_value=1, max_value=4))
def test_the_column_fold_cut_into_parts_equals_the_fold_of_the_events(
    events: list[dict[str, Any]], parts: int
) -> None:
    lines = [json.dumps(event) for event in events]
    rows = [row for row in map(_row, lines) if row is not None]
    expected = Fold()
    for line in lines:
        if _row(line) is not None:
            outcome = validate(line, "f", "line 1")
            assert not isinstance(outcome, Rejection)
            expected.add(outcome)

    # As the backfill does: the identifier-keyed fold in the chunk's `Fold` (which alone
    # creates nodes), the account columns cut by part, each part folded on its own.
    chunk = Fold()
    columns = columnar.transpose(rows)
    columnar.node_state(rows, columns, chunk)
    got = Fold()
    got.merge_state(json.loads(json.dumps(chunk.to_state())))
    for part_columns in columnar.split_rows(columns, parts).values():
        part, links = Fold(), columnar.LinkTable()
        folded = columnar.fold_columns(columnar.concat([part_columns]), part, links)
        assert folded == len(part_columns[columnar.T])
        links.merge_into(part)
        got.merge_state(json.loads(json.dumps(part.to_state())))
    assert got.events == expected.events == len(rows)
    assert _plan(got) == _plan(expected)
    assert _nodes(chunk, parts) == _nodes(expected, parts)


def test_the_contract_examples_of_the_three_types_take_the_fast_path() -> None:
    """The tests above must not pass by the fast path taking nothing; signups do not take it."""
    lines = [line for line in EXAMPLES.read_text().splitlines() if line.strip()]
    examples = {event["type"]: event for event in map(json.loads, lines)}
    for kind in ("usage", "session", "billing"):
        assert _row(json.dumps(examples[kind])) is not None, kind
    assert _row(json.dumps(examples["signup"])) is None
    line = json.dumps({**examples["usage"], "occurred_at": "2026-02-26T19:52:59Z"})
    row = _row(line)
    assert row is not None
    assert row[columnar.T] == 1772135579000 and row[columnar.DAY] == "20260226"
    assert _row(line.replace('"input_tokens": ', '"input_tokens": 1.5, "x": ')) is None


SPANS = st.lists(
    st.tuples(
        st.sampled_from(["USED_IP", "USED_TEMPLATE"]), st.sampled_from(["a-1", "a-2", "a-10"]),
        st.sampled_from(["0:12be", "3:ffff", "1:0000"]), st.integers(1, 3),
        st.integers(-(10**13), 10**13), st.integers(0, 10**9), st.booleans(),
    ),
    max_size=60,
)  # fmt: skip


@BUDGET
@given(SPANS)
def test_the_link_table_groups_events_and_spans_as_merge_span_does(
    spans: list[tuple[str, str, str, int, int, int, bool]],
) -> None:
    expected: dict[tuple[str, str, str], list[int]] = {}
    table, fold_links = columnar.LinkTable(), {}
    for rel, account, key, n, first, length, as_event in spans:
        if as_event:  # one row per event, as the columns give them
            for _ in range(n):
                merge_span(expected, (rel, account, key), 1, first, first)
            # Template bands come as their numbers (`band_ids`), other keys as text.
            keys = [columnar.band_numbers()[key]] * n if rel == "USED_TEMPLATE" else [key] * n
            table.add(rel, _objects([account] * n), np.array(keys), np.full(n, first))
        else:  # a fold's span, as the general path's `Fold.links` holds it
            merge_span(expected, (rel, account, key), n, first, first + length)
            merge_span(fold_links, (rel, account, key), n, first, first + length)
    table.add_fold(fold_links)
    got: dict[tuple[str, str, str], list[int]] = {}
    for rel, rows in table.rows().items():
        accounts = rows.account.tolist()
        runs = [a for i, a in enumerate(accounts) if i == 0 or accounts[i - 1] != a]
        assert len(runs) == len(set(accounts)), "an account's links are together"
        for account, key, n, first, last in zip(
            rows.account.tolist(), rows.key.tolist(), rows.n.tolist(), rows.first.tolist(),
            rows.last.tolist(), strict=True,
        ):  # fmt: skip
            assert (rel, account, key) not in got, "one row per (account, identifier)"
            got[(rel, account, key)] = [n, first, last]
    assert got == expected


def _objects(values: list[str]) -> Any:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@BUDGET
@given(st.lists(st.text("0123456789abcdefABCDEF", min_size=16, max_size=16), max_size=30))
def test_band_numbers_name_the_bands_prompt_bands_gives(signatures: list[str]) -> None:
    got = columnar.band_text()[columnar.band_ids(_objects(signatures))]
    assert [tuple(row) for row in got.tolist()] == [prompt_bands(s) for s in signatures]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@BUDGET
@given(PLAIN, st.dictionaries(st.sampled_from(sorted(FIELDS)), JSON_VALUES, max_size=4))
def test_the_fast_path_never_raises_whatever_json_a_field_holds(
    event: dict[str, Any], changes: dict[str, Any]
) -> None:
    """A line it cannot take goes the general way, which rejects it alone; an exception would
    stop the whole backfill (a `type` holding a list once did)."""
    columnar.accept(json.dumps({**event, **changes}))


@BUDGET
@given(st.text(max_size=60) | LINES.map(json.dumps).map(lambda line: line[: len(line) // 2]))
def test_the_fast_path_never_raises_whatever_text_a_line_holds(text: str) -> None:
    columnar.accept(text)


def test_lines_the_decoder_cannot_hold_go_the_general_way() -> None:
    usage = '{"type": "usage", "event_id": "u-1", "x": %s}'
    assert columnar.accept(usage % ("[" * 100_000 + "]" * 100_000)) is None
    assert columnar.accept(usage % '"\\ud800"') is None  # escaped: the decoder rejects it
    assert columnar.accept(usage % '"\ud800"') is None  # in the text: not UTF-8 at all
