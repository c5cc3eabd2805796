"""A fold worker's memory of what it has spilled (`bulk.Sent`): leaving out what it spilled
before must not change what the reduce merges, whatever the order, repeats and resets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.ingest import bulk
from backend.ingest.plan import Fold

NODES = st.tuples(st.sampled_from(["IP", "Device", "PromptTemplateBand"]), st.sampled_from("abcd"))
IP_ROWS = st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2"]), st.just("10.0.0.0/24"),
                    st.just(4), st.sampled_from([None, "AS1"]), st.sampled_from([None, "p"]))  # fmt: skip
# A node's properties from one event: (node, time, event id); an event's values are its own.
PROPS = st.tuples(NODES, st.integers(0, 50), st.sampled_from("xyz"))
CHUNK = st.tuples(st.sets(NODES), st.sets(IP_ROWS), st.lists(PROPS))


def _fold(chunk: tuple[set[Any], set[Any], list[Any]]) -> Fold:
    fold = Fold()
    nodes, ip_rows, props = chunk
    fold.targets = set(nodes)
    fold.ip_structure = set(ip_rows)
    for (label, key), t, event in props:
        fold.set_props(label, key, f"{t:013d}|{event}", {"value": f"{t}{event}"})
    return fold


def _merged(folds: list[Fold]) -> str:
    """What the reduce gets from these spilled folds (`Fold.merge_state`), canonically."""
    merged = Fold()
    for fold in folds:
        merged.merge_state(json.loads(json.dumps(fold.to_state())))
    return json.dumps({name: sorted(map(json.dumps, rows)) if isinstance(rows, list) else rows
                       for name, rows in merged.to_state().items()}, sort_keys=True)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(CHUNK, max_size=8), min_size=1, max_size=3), st.integers(0, 12))
def test_what_a_worker_leaves_out_the_reduce_merges_anyway(
    workers: list[list[tuple[set[Any], set[Any], list[Any]]]], limit: int
) -> None:
    expected = _merged([_fold(chunk) for chunks in workers for chunk in chunks])
    spilled: list[Fold] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk, "SENT_LIMIT", limit)  # small: the memory starts again often
        for chunks in workers:  # each worker has a memory of its own
            sent = bulk.Sent()
            for chunk in chunks:
                fold = _fold(chunk)
                sent.keep_new(fold)
                spilled.append(fold)
    assert _merged(spilled) == expected


def test_a_worker_spills_a_node_once_and_its_properties_only_when_newer() -> None:
    sent = bulk.Sent()
    first = _fold(({("IP", "a")}, set(), [(("IP", "a"), 10, "x")]))
    sent.keep_new(first)
    assert first.targets == {("IP", "a")} and set(first.props) == {("IP", "a")}
    again = _fold(({("IP", "a")}, set(), [(("IP", "a"), 9, "x")]))
    sent.keep_new(again)
    assert not again.targets and not again.props  # older: the part keeps the newer anyway
    newer = _fold(({("IP", "a")}, set(), [(("IP", "a"), 11, "x")]))
    sent.keep_new(newer)
    assert not newer.targets and newer.props[("IP", "a")].props == {"value": "11x"}
