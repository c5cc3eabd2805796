"""`POST /v1/events` body parsing: format from Content-Type, per-event cap, hostile nesting."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException

from backend.api.app import _route_template
from backend.api.ingest_routes import _items
from backend.events.reader import MAX_LINE_BYTES

NDJSON = "application/x-ndjson"


@pytest.mark.parametrize("content_type", [NDJSON, "application/jsonl", "text/plain", ""])
def test_ndjson_whose_first_line_starts_with_a_bracket_stays_ndjson(content_type: str) -> None:
    body = b'[1, 2]\n{"type": "usage"}\n'
    items = _items(body, content_type)
    assert [(loc, text) for loc, text, _, _ in items] == [
        ("line 1", "[1, 2]"), ("line 2", '{"type": "usage"}'),
    ]  # fmt: skip


def test_a_json_body_is_one_array_whatever_its_charset() -> None:
    items = _items(b'[{"a": 1}, {"b": 2}]', "application/json; charset=utf-8")
    assert [loc for loc, *_ in items] == ["index 0", "index 1"]


def test_a_body_nested_past_the_recursion_limit_is_a_clear_400() -> None:
    with pytest.raises(HTTPException) as caught:
        _items(b"[" * 5000 + b"]" * 5000, "application/json")
    assert caught.value.status_code == 400 and "nested too deeply" in caught.value.detail


def test_an_oversized_event_is_refused_alone() -> None:
    big = json.dumps({"type": "usage", "pad": "x" * MAX_LINE_BYTES}).encode()
    items = _items(b'{"type": "usage"}\n' + big + b"\n", NDJSON)
    (_, ok, _, _), (loc, text, raw, reason) = list(items)
    assert ok == '{"type": "usage"}'
    assert (loc, text) == ("line 2", None)
    assert "over the" in reason and len(raw) <= MAX_LINE_BYTES
    body = json.dumps([{"pad": "x" * MAX_LINE_BYTES}]).encode()
    in_array = list(_items(body, "application/json"))
    assert in_array[0][1] is None and "over the" in in_array[0][3]


@pytest.mark.parametrize(
    "body",
    [b"[]", b" [ ] ", b'[{"a": 1}]', b'[ {"a": [1, {"b": "]"}]} ,\n "x", 3, null ]',
     '[{"name": "ø", "s": "\\u00e9"}]'.encode()],
)  # fmt: skip
def test_array_items_are_each_element_as_written(body: bytes) -> None:
    items = list(_items(body, "application/json"))
    assert [json.loads(text) for _, text, _, _ in items] == json.loads(body)
    assert [loc for loc, *_ in items] == [f"index {i}" for i in range(len(items))]


@pytest.mark.parametrize(
    "body", [b"", b"{}", b"[1,]", b"[1 2]", b"[1", b"[1] x", b"[,1]", b'["\xff"]']
)
def test_a_malformed_array_is_a_400_before_any_item(body: bytes) -> None:
    with pytest.raises(HTTPException) as caught:
        _items(body, "application/json")
    assert caught.value.status_code == 400


def test_more_items_than_a_request_may_hold_is_a_413_before_any_item() -> None:
    with pytest.raises(HTTPException) as caught:
        _items(b"x\n" * 11, NDJSON, limit=10)
    assert caught.value.status_code == 413
    with pytest.raises(HTTPException) as caught:
        _items(b"[" + b"0," * 10 + b"0]", "application/json", limit=10)
    assert caught.value.status_code == 413
    assert len(list(_items(b"x\n" * 10, NDJSON, limit=10))) == 10  # a final newline ends a line
    assert len(list(_items(b"x\n" * 9 + b"x", NDJSON, limit=10))) == 10


def test_unrouted_requests_never_become_metric_labels() -> None:
    assert _route_template({"path": "/graphqlAAAA"}) == "unmatched"
    assert _route_template({"path": "/anything"}) == "unmatched"
