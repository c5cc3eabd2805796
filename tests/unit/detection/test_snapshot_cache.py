"""The cached whole-graph incidence, brought up to date from the touched accounts' links, equals
a fresh export of the grown graph (`backend/detection/snapshot_cache.py`)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from backend.detection.projection import Incidence, in_account_order
from backend.detection.snapshot_cache import (
    Fresh,
    TouchedLinks,
    WholeGraph,
    load,
    merge,
    names,
    needed,
    save,
)

KINDS = ("PAID_WITH", "USED_IP", "USED_TEMPLATE")
Links = set[tuple[int, int]]  # (account node, identifier node)


class World:
    """A graph as link sets: accounts are nodes 1000+, identifiers 1..999 (kind = node % 3)."""

    def __init__(self, rng: random.Random, accounts: int, idents: int, links: int) -> None:
        self.rng = rng
        self.names = {1000 + a: f"acct-{rng.randrange(10**6):06d}-{a}" for a in range(accounts)}
        self.keys = {i: f"key-{rng.randrange(10**5):05d}-{i}" for i in range(1, idents + 1)}
        self.links: Links = set()
        for _ in range(links):
            self.links.add((rng.choice(list(self.names)), self._ident()))

    def _ident(self) -> int:
        # Skewed: a few identifiers held by many, most by a few.
        return 1 + min(int(self.rng.expovariate(1 / 40)), len(self.keys) - 1)

    def holders(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for a, i in self.links:
            out.setdefault(i, []).append(a)
        return out

    def export(self, floors: np.ndarray, cap: int) -> WholeGraph:
        """What `reads.export_incidence` reads from Neo4j: identifiers with floor..cap
        holders, in (kind, key) order; accounts in account-id order."""
        held = self.holders()
        chosen = sorted(
            (i for i, h in held.items() if floors[i % 3] <= len(h) <= cap),
            key=lambda i: (i % 3, self.keys[i]),
        )
        lists = [sorted(held[i]) for i in chosen]
        nodes, dense = np.unique(np.asarray([a for h in lists for a in h], np.int64),
                                 return_inverse=True)  # fmt: skip
        inc = Incidence(
            kind=np.asarray([i % 3 for i in chosen], np.int64),
            degree=np.asarray([len(held[i]) for i in chosen], np.int64),
            keys=[self.keys[i] for i in chosen],
            ptr=np.concatenate([[0], np.cumsum([len(h) for h in lists])]).astype(np.int64),
            holders=dense.astype(np.int64), kinds=KINDS, accounts=int(nodes.size),
            population=len(self.names),
        )  # fmt: skip
        account = np.asarray([self.names[int(n)] for n in nodes], object)
        inc, order = in_account_order(inc, account)
        return WholeGraph(inc, nodes[order], names(account[order]),
                          np.asarray(chosen, np.int64))  # fmt: skip

    def touched_links(self, touched: set[int], floors: np.ndarray) -> TouchedLinks:
        held = self.holders()
        rows = sorted(
            (a, i) for a, i in self.links if a in touched and len(held[i]) >= floors[i % 3]
        )
        return TouchedLinks(
            nodes=np.asarray([a for a, _ in rows], np.int64),
            kind=np.asarray([i % 3 for _, i in rows], np.int64),
            idents=np.asarray([i for _, i in rows], np.int64),
            degree=np.asarray([len(held[i]) for _, i in rows], np.int64),
        )


def _same(got: WholeGraph, want: WholeGraph) -> None:
    a, b = got.incidence, want.incidence
    assert a.keys == b.keys
    for name in ("kind", "degree", "ptr", "holders"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.accounts == b.accounts and a.population == b.population
    np.testing.assert_array_equal(got.node_ids, want.node_ids)
    np.testing.assert_array_equal(got.account_ids, want.account_ids)
    np.testing.assert_array_equal(got.idents, want.idents)


@pytest.mark.parametrize("seed", range(12))
def test_merge_equals_a_fresh_export(seed: int) -> None:
    rng = random.Random(seed)
    world = World(rng, accounts=300, idents=400, links=900)
    cap = 15
    before = np.array([2, 2, 2])
    cached = world.export(before, cap)
    # The graph grows: new accounts (some onto existing identifiers, some onto fresh ones that
    # become shared, some past the cap), existing accounts gaining links.
    touched: set[int] = set()
    for a in range(300, 340):
        node = 1000 + a
        world.names[node] = f"acct-{rng.randrange(10**6):06d}-{a}"
        touched.add(node)
    for _ in range(160):
        node = rng.choice(sorted(touched) + rng.sample(sorted(world.names), 5))
        touched.add(node)
        world.links.add((node, world._ident()))
    after = np.array([2, 2, 3]) if seed % 2 else before  # the template floor may rise
    links = world.touched_links(touched, after)
    need = needed(cached, links, after, cap)
    held = world.holders()
    # In another order than asked: the merge must not rely on the read's order.
    ask = need[::-1]
    fresh = Fresh(ask, [world.keys[int(i)] for i in ask], [held[int(i)] for i in ask.tolist()])
    asked: list[int] = []

    def names_of(nodes: np.ndarray) -> list[str]:
        asked.extend(nodes.tolist())
        return [world.names[int(n)] for n in nodes]

    cached.exported_at = 1234.5
    got = merge(cached, links, fresh, names_of, after, cap, len(world.names))
    _same(got, world.export(after, cap))
    assert got.exported_at == 1234.5  # still descends from that whole read
    assert not set(asked) & set(cached.node_ids.tolist())  # names read only for new accounts


def test_an_unchanged_graph_merges_to_itself() -> None:
    world = World(random.Random(3), accounts=100, idents=120, links=300)
    floors = np.array([2, 2, 2])
    cached = world.export(floors, 20)
    empty = TouchedLinks(*(np.zeros(0, np.int64),) * 4)
    fresh = Fresh(np.zeros(0, np.int64), [], [])
    _same(merge(cached, empty, fresh, lambda n: [], floors, 20, 100), cached)


def test_saved_and_loaded_only_for_its_run(tmp_path: Path) -> None:
    world = World(random.Random(4), accounts=80, idents=100, links=250)
    graph = world.export(np.array([2, 2, 2]), 20)
    graph.run_id, graph.signature, graph.exported_at = "run-1", "sig", 1000.0
    directory = tmp_path / "incidence"
    save(graph, directory)
    loaded = load(directory, "run-1", "sig")
    assert loaded is not None and loaded.exported_at == 1000.0
    _same(loaded, graph)
    assert load(directory, "run-1", "sig", exported_after=1000.0) is not None
    assert load(directory, "run-1", "sig", exported_after=1000.5) is None  # read whole too long ago
    assert load(directory, "run-2", "sig") is None  # another refresh wrote last
    assert load(directory, "run-1", "other") is None  # other export settings
    assert load(directory, None, "sig") is None  # nothing has written yet
    graph.run_id = "run-2"
    save(graph, directory)  # replaced whole
    assert load(directory, "run-2", "sig") is not None and load(directory, "run-1", "sig") is None
    assert [p.name for p in tmp_path.iterdir()] == ["incidence"]
    # A cache written and never swapped in (a refresh that died) is dropped by the next write.
    (tmp_path / ".incidence.dead1234").mkdir()
    save(graph, directory)
    assert [p.name for p in tmp_path.iterdir()] == ["incidence"]
