"""Fuzz the way in: any bytes through the reader, validation, normalisation and the fold.

The property that matters (issue: good events lost on bad input): whatever a file holds, the
only failure is a per-line rejection naming a field and a reason, every valid line beside it is
accepted, and whatever validation accepts, the fold takes without an exception (a fold error
after the batch's ids were claimed is how a whole batch used to be lost).

`HERACLES_FUZZ_EXAMPLES` sets the examples per test (10,000 in `make test`; `make fuzz` runs
more).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.events.contract import Event
from backend.events.reader import MAX_LINE_BYTES, iter_lines
from backend.events.validation import Rejection, validate
from backend.ingest.plan import build_plan
from tests.paths import EXAMPLES

BUDGET = settings(
    max_examples=int(os.environ.get("HERACLES_FUZZ_EXAMPLES", "10000")),
    deadline=None,
    database=None,  # no example database in the checkout: each run draws afresh
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TEMPLATES = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
FIELDS = sorted({k for t in TEMPLATES for k in t} | {"extra", ""})

# Strings that have broken parsers before: blank and whitespace-only identifiers, controls,
# surrogates, markup, very long, numbers as text.
TRICKY = st.sampled_from(
    ["", " ", "   ", "\t\n", "\x00", "\ud800", "[/]", "[bold]x", "\u202e", "0", "-1", "1e309",
     "NaN", "null", "a" * 5000, "not-an-ip", "999.1.1.1", "::", "2026-13-45T99:99:99Z", "ø@ø"]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | TRICKY
# What a field of the contract most often is: a string, here of the kinds that trip parsers.
STRINGS = TRICKY | st.text(max_size=30) | st.text(" \t\r\x0b\x0c\xa0\u2003\u3000", min_size=1)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _valid(i: int, template: dict[str, Any], account: int) -> dict[str, Any]:
    event = {**template, "event_id": f"fz-ok-{i}"}
    if "account_id" in event:
        event["account_id"] = f"a-fz-{account}"
    return event


@st.composite
def _mutant(draw: st.DrawFn) -> bytes:
    """One bad (or accidentally valid) line: a field replaced, dropped or added, whole JSON
    of another shape, or bytes."""
    how = draw(st.integers(0, 5))
    if how == 0:
        return draw(st.binary(max_size=200))
    if how == 1:
        return json.dumps(draw(JSON_VALUES)).encode()
    event = dict(draw(st.sampled_from(TEMPLATES)))
    event["event_id"] = f"fz-bad-{draw(st.integers(0, 10**6))}"
    if how == 5:  # one of its own fields, as another string
        event[draw(st.sampled_from(sorted(event)))] = draw(STRINGS)
        return json.dumps(event).encode()
    key = draw(st.sampled_from(FIELDS))
    if how == 2:
        event.pop(key, None)
    else:
        event[key] = draw(JSON_VALUES)
    text = json.dumps(event, allow_nan=True)
    return text.encode("utf-8", errors="surrogatepass") if how == 4 else text.encode()


@st.composite
def _file(draw: st.DrawFn) -> tuple[bytes, set[str], set[str]]:
    """Valid lines and mutants interleaved: (file bytes, valid event ids, their accounts)."""
    valid = [
        _valid(i, draw(st.sampled_from(TEMPLATES)), draw(st.integers(0, 3)))
        for i in range(draw(st.integers(0, 6)))
    ]
    lines = [json.dumps(v).encode() for v in valid]
    for bad in draw(st.lists(_mutant(), max_size=8)):
        lines.insert(draw(st.integers(0, len(lines))), bad.replace(b"\n", b" "))
    accounts = {v["account_id"] for v in valid if "account_id" in v}
    return b"\n".join(lines) + b"\n", {v["event_id"] for v in valid}, accounts


@BUDGET
@given(st.binary(max_size=4096))
def test_any_bytes_read_as_lines_without_an_exception(data: bytes) -> None:
    for line in iter_lines(io.BytesIO(data)):
        assert line.number >= 1
        if line.text is None:
            assert line.error
        else:
            assert line.text and len(line.text.encode()) <= MAX_LINE_BYTES


@BUDGET
@given(_file())
def test_bad_lines_are_rejected_alone_and_what_is_accepted_folds(
    case: tuple[bytes, set[str], set[str]],
) -> None:
    data, valid_ids, valid_accounts = case
    accepted: list[Event] = []
    for line in iter_lines(io.BytesIO(data)):
        if line.text is None:
            continue
        result = validate(line.text, "fuzz", f"line {line.number}")
        if isinstance(result, Rejection):
            # field: the dotted path of the offending field, "" when the whole line is wrong
            assert result.reason and result.location == f"line {line.number}"
        else:
            accepted.append(result)
    assert valid_ids <= {e.event_id for e in accepted}  # every valid line beside bad ones
    plan = build_plan(accepted)  # whatever validation accepts, the fold takes
    assert valid_accounts <= set(plan.account_ids)
