"""Account-identifier incidence → weighted account-account graph, as sparse arrays.

Each shared identifier is a hyperedge over the accounts holding it. It gives each holder a
total link weight of `weight[kind] * rarity(degree)`, split evenly among the other holders (and
shared among the identifiers of that kind the holder has, see `kind_share`), so a
card shared by 6 accounts ties them far tighter than a proxy exit shared by 150, and an account
cannot gain weight just by touching big identifiers. Identifiers held by more than the link cap
do not link at all (they remain features). Up to `exact_max` holders the clique is exact; above
it each holder is paired with `2 * rounds` random co-holders carrying the same total weight
(fewer rounds for weaker kinds, in proportion to their weight), which keeps the edge count
linear in the degree instead of quadratic.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

from backend.graph.model import NESTED_LINKS
from backend.normalise.identifiers import LSH_BAND_BITS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

TEMPLATE_KIND = "USED_TEMPLATE"
BUILD_KIND = "USED_CLIENT"
T = TypeVar("T")

# Row passes split at identifier boundaries run on this many threads (`in_row_shards`): numpy
# releases the GIL in its sorts, gathers and arithmetic, and a refresh otherwise leaves the
# second core idle (Neo4j waits while the pipeline runs). Two: this machine's cores; more
# shards than cores measured no better.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
ROW_THREADS = max(1, min(2, _CORES or 1))
# Below this many rows a pass is one call: a thread's start and the split are not repaid.
MIN_SHARD_ROWS = 500_000


@dataclass
class Incidence:
    """Identifiers held by two or more accounts, CSR-style: identifier j's holders are
    `holders[ptr[j]:ptr[j+1]]` (dense account indices)."""

    kind: I64  # index into `kinds`
    degree: I64  # holders in the whole graph
    keys: list[str]
    ptr: I64
    holders: I64
    kinds: tuple[str, ...]
    accounts: int  # dense account count (every account that holds any exported identifier)
    population: int  # accounts in the graph, for the rarity discount
    # Per identifier: exempt from the link cap (conjunctions, whose specificity is tested).
    uncapped: npt.NDArray[np.bool_] | None = None
    # Per identifier: an edit of an SDK's default prompt (`conjunctions`), capped however few
    # hold it.
    variants: npt.NDArray[np.bool_] | None = None
    # Per identifier: its band position where it is not in its key (`band_position`).
    positions: I64 | None = None
    # Per account: the prompts it sent (its exchanges), what chance had to work with when its
    # template bands match a community's (`scoring.band_consistency`); None: not known yet.
    prompts: F64 | None = None

    @cached_property
    def identifier_of_row(self) -> I64:
        """Computed once: a refresh asks for it a dozen times (~0.1 s each at a million
        accounts). Incidences are never changed in place (`dataclasses.replace` makes new ones)."""
        return np.repeat(np.arange(self.degree.size), np.diff(self.ptr))

    @cached_property
    def spread_of_row(self) -> I64:
        """Per incidence row: its identifier's other holders (at least 1), what a tie's
        concentration divides by; computed once for the refresh's eight tie measurements."""
        return np.maximum(self.degree - 1, 1)[self.identifier_of_row]

    @cached_property
    def band_position(self) -> I64:
        """Per identifier: which of the prompt SimHash's bands a template band is (its key
        "2:12be" says so, `normalise.identifiers.prompt_bands`), or a conjunction holds (its
        band's, `conjunctions`); -1 for every other identifier and for a template key without
        a position."""
        if self.positions is not None:
            return self.positions
        out = np.full(self.degree.size, -1, np.int64)
        if TEMPLATE_KIND in self.kinds:
            bands = np.flatnonzero(self.kind == self.kinds.index(TEMPLATE_KIND))
            prefix = [self.keys[j].partition(":") for j in bands.tolist()]
            out[bands] = [int(p) if sep and p.isdigit() else -1 for p, sep, _ in prefix]
        return out

    @cached_property
    def band_rows(self) -> BandRows:
        """Computed once: every tie a refresh measures reads them (`scoring.band_consistency`),
        and they are a fraction of the rows."""
        position = self.band_position[self.identifier_of_row]
        rows = np.flatnonzero(position >= 0)
        return BandRows(rows, self.holders[rows], position[rows])

    @cached_property
    def is_band_row(self) -> npt.NDArray[np.bool_]:
        """Per row: a template band's (`band_rows`), as a mask; every tie measurement reads it."""
        mask = np.zeros(self.holders.size, bool)
        mask[self.band_rows.rows] = True
        return mask

    def remember_pairs(self, labels: I64, pairs: I64, counts: I64) -> None:
        """Keep the (identifier, community) pairs a tie measurement counted under `labels`
        (`scoring._count_pairs`' keys and counts): the scores read them again under the same
        labels right after (`attach`'s best ties after its tie strength; the cluster scores and
        evidence after the members' ties), each a sort of every row otherwise (~0.3 s on a
        region of 16M rows). Only the last labels are kept, and only when the pairs are at
        most a sixteenth of the rows (~100,000 of a region's 16M; the self-tied split's owner
        groups give 2.6M, never asked for again): the full refresh's peak memory is within a
        few hundred MiB of its target, and this holds no row-sized array past the measurement."""
        self.__dict__.pop("pair_counts", None)
        if 16 * pairs.size <= self.holders.size:
            self.__dict__["pair_counts"] = (labels.copy(), pairs, counts)

    def remembered_pairs(self, labels: I64) -> tuple[I64, I64] | None:
        """The pairs and counts `remember_pairs` kept for these labels, if it kept them."""
        kept = self.__dict__.get("pair_counts")
        if kept is None or not np.array_equal(kept[0], labels):
            return None
        return kept[1], kept[2]

    def with_prompts(self, prompts: F64) -> Incidence:
        """The same incidence with `prompts` known, keeping the row caches computed so far
        (none depends on prompts): `replace` alone dropped them, and the scores stage
        computed the band rows and spreads again (~2 s at full usage)."""
        out = replace(self, prompts=prompts)
        for name in _ROW_CACHES:
            if name in self.__dict__:
                out.__dict__[name] = self.__dict__[name]
        return out


_ROW_CACHES = (
    "identifier_of_row",
    "spread_of_row",
    "band_position",
    "band_rows",
    "is_band_row",
    "pair_counts",
)


@dataclass(frozen=True)
class BandRows:
    """The incidence rows of template bands (and of their conjunctions): which rows, their
    holders and their band positions (`Incidence.band_rows`)."""

    rows: I64
    holders: I64
    position: I64


def in_account_order(inc: Incidence, account_ids: npt.NDArray[Any]) -> tuple[Incidence, I64]:
    """The same incidence with dense index = rank of the account id, and each identifier's
    holders in that order; also the permutation (new dense index -> old).

    Detection must not depend on the order events were written: Leiden's result depends on
    vertex order and the sampling of large identifiers on holder order, and internal node ids
    follow write order (`repository.ACCOUNT_IDS`). Identifiers must already be in a canonical
    order (the export sorts them by key)."""
    ids = np.asarray(account_ids)
    # UTF-8 bytes sort in code-point order (`snapshot_cache.names`), twice as fast as str.
    order = np.argsort(ids if ids.dtype.kind == "S" else ids.astype(str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    # Within each identifier, holders by rank: one sort of (identifier, rank) as one integer
    # key (identifiers are already in order), 10x faster than a lexsort of the two at 10.3M
    # rows (3.2 s; docs/benchmarks.md, "Full preset").
    n = max(inc.accounts, 1)
    holders = np.sort(inc.identifier_of_row * n + rank[inc.holders]) % n
    return replace(inc, holders=holders.astype(np.int64)), order.astype(np.int64)


def restrict(inc: Incidence, keep: npt.NDArray[np.bool_]) -> tuple[Incidence, I64]:
    """What the incremental export returns for a region (`keep`, per dense account): the
    identifiers its accounts hold, with only its accounts as holders and the whole graph's
    degrees; accounts renumbered densely (and the map back to `inc`'s). For offline replays
    and tests: the live refresh gets this shape from Neo4j (`repository.EXPORT_REGION`)."""
    dense = np.flatnonzero(keep)
    index = np.full(inc.accounts, -1, np.int64)
    index[dense] = np.arange(dense.size)
    rows = inc.identifier_of_row
    inside = keep[inc.holders]
    held = np.unique(rows[inside])
    lengths = np.bincount(rows[inside], minlength=inc.degree.size)[held]
    return replace(
        inc, kind=inc.kind[held], degree=inc.degree[held], keys=[inc.keys[j] for j in held],
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        holders=index[inc.holders[inside]], accounts=int(dense.size),
        uncapped=None if inc.uncapped is None else inc.uncapped[held],
        variants=None if inc.variants is None else inc.variants[held],
        positions=None if inc.positions is None else inc.positions[held],
    ), dense  # fmt: skip


def rarity(degree: I64 | F64, population: int) -> F64:
    """IDF-style discount in (0, 1]: 1 for a pair, falling with the log of how common it is."""
    population = max(population, 3)
    value = np.log(population / np.maximum(degree, 2)) / np.log(population / 2)
    return np.asarray(np.clip(value, 0.05, 1.0), np.float64)


def chance_floor(links: int, buckets: int, false_rate: float = 1e-6) -> int:
    """Fewest holders of a hashed identifier that chance collisions do not explain.

    Template bands are 16-bit slices of a SimHash: in a big population unrelated prompts land
    in the same band by chance (a million accounts put ~20 holders in every band). Holders of
    one bucket are then Poisson with mean links / buckets; a band held by more accounts than
    its (1 - false_rate) quantile is evidence of a shared template, fewer is noise. Never
    below 2 (on a small graph every shared band counts).
    """
    if links <= 0 or buckets <= 0:
        return 2
    return max(2, int(chance_floors(np.array([links / buckets]), false_rate)[0]))


def band_floor(links: int, buckets: int, held: int, histogram: I64) -> int:
    """`chance_floor` with the chance mean taken from the bulk of band values, not all links.

    Popular templates put thousands of holders on a few values, which raises `links / buckets`
    above what chance puts on the others: on draw 188 (114k accounts) the mean was 4.86 and
    the floor 19, where the values' own spread says 1.7-2 (47k of 262k values empty, half
    held by 2 or fewer) and a floor of 13, so an 80-account network's 17 templates, 12-15
    holders each, were never exported (`docs/detection.md`). Neither robust estimate is moved
    by the popular values: the Poisson mean that leaves the empty values empty, `-ln(empty
    share)`, and the median holders per value; the larger is taken, and never above
    `links / buckets`. `held`: values held at all; `histogram[d]`: values held by d accounts,
    for d below the plain floor (the median past it keeps the plain floor)."""
    plain = chance_floor(links, buckets)
    empty = buckets - held
    below = empty + np.cumsum(histogram[1:])
    past = np.flatnonzero(below * 2 >= buckets)
    if empty * 2 >= buckets:
        median = 0
    elif past.size:
        median = int(past[0]) + 1
    else:
        return plain
    zeros = -np.log(max(empty, 0.5) / buckets)
    mean = min(links / buckets, max(zeros, float(median)))
    if mean <= 0:
        return plain
    return min(plain, max(2, int(chance_floors(np.array([mean]))[0])))


def chance_floors(means: F64, false_rate: float = 1e-6) -> I64:
    """Per Poisson mean (holders expected by chance), the fewest holders chance does not
    explain: its (1 - false_rate) quantile plus one (1 where chance expects none)."""
    if not means.size:
        return np.zeros(0, np.int64)
    distinct, inverse = np.unique(means, return_inverse=True)
    floors = np.asarray(stats.poisson.isf(false_rate, distinct), np.int64) + 1
    return np.asarray(floors[inverse], np.int64)


def holder_weight(inc: Incidence, weights: dict[str, float]) -> F64:
    """Total link weight each holder of identifier j gets from it."""
    base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind]
    return np.asarray(base * rarity(inc.degree, inc.population), np.float64)


def unique_runs(key: I64, inverse: I64 | None = None) -> tuple[I64, I64, I64]:
    """`np.unique(key, return_inverse=True, return_counts=True)`, exactly, for keys that are
    nearly sorted (an identifier's rows are contiguous, so keys led by the identifier are):
    a stable sort (timsort) finds the runs, 2-5x faster than `np.unique`'s, which spent ~1 s
    per call on a region's 3.8M rows (measured, numpy 2.4). `inverse`: where to write the
    inverse (a slice of a larger array), instead of a new array."""
    if not key.size:
        return key.astype(np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    first = np.empty(ordered.size, bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    unique = ordered[starts].astype(np.int64)
    del ordered  # key-sized arrays freed as they are done with: ties call this on 15M rows
    counts = np.diff(np.r_[starts, key.size])
    if inverse is None:
        inverse = np.empty(key.size, np.int64)
    # Each sorted row's run number, written out by run (a third of `cumsum`'s time on a bool).
    inverse[order] = np.repeat(np.arange(starts.size, dtype=np.int64), counts)
    return unique, inverse, counts


def row_shards(ptr: I64, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous row ranges of about equal size that split no identifier (`ptr`: an
    incidence's), in row order; fewer when an identifier is larger than a share."""
    n = int(ptr[-1]) if ptr.size else 0
    targets = np.arange(1, max(parts, 1)) * n // max(parts, 1)
    cuts = ptr[np.minimum(np.searchsorted(ptr, targets), ptr.size - 1)] if ptr.size else targets
    bounds = np.unique(np.r_[0, cuts, n]).tolist()
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def in_row_shards(inc: Incidence, work: Callable[[int, int], T]) -> list[T]:
    """`work(lo, hi)` over row ranges that split no identifier (`row_shards`), in row order,
    on `ROW_THREADS` threads. Anything counted per identifier (per (identifier, community))
    comes out as from one pass: an identifier's rows are all in one range, and the ranges'
    keys, identifier first, follow each other in order."""
    n = int(inc.holders.size)
    shards = row_shards(inc.ptr, ROW_THREADS if n >= MIN_SHARD_ROWS else 1) or [(0, n)]
    if len(shards) == 1:
        return [work(*shards[0])]
    with ThreadPoolExecutor(len(shards), thread_name_prefix="rows") as pool:
        return list(pool.map(lambda shard: work(*shard), shards))


def unique_counts(key: I64) -> tuple[I64, I64]:
    """`np.unique(key, return_counts=True)`, exactly, for nearly sorted keys (as `unique_runs`,
    without the inverse): a stable sort of the keys themselves, no permutation. On a region's
    15M (identifier, community) keys at full usage, 0.2-0.4 s against `np.unique`'s 1.3-1.5 s
    (its quicksort does not see the identifier's runs; measured, numpy 2.4)."""
    if not key.size:
        return key.astype(np.int64), np.zeros(0, np.int64)
    ordered = np.sort(key, kind="stable")
    first = np.empty(ordered.size, bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered[starts].astype(np.int64), np.diff(np.r_[starts, key.size])


def locate(
    node_ids: I64, nodes: I64, order: I64 | None = None
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Each node's dense index in `node_ids` (any order) and whether it is there at all: a
    sorted lookup, for node ids, identifiers or combined keys alike. `order`:
    `np.argsort(node_ids)`, when the caller looks up many batches (omitted and `node_ids`
    unsorted, it is computed)."""
    if not node_ids.size:
        return np.zeros(nodes.size, np.int64), np.zeros(nodes.size, bool)
    if order is None:
        order = np.argsort(node_ids, kind="stable")
    at = np.minimum(np.searchsorted(node_ids, nodes, sorter=order), node_ids.size - 1)
    pos = order[at]
    return pos, node_ids[pos] == nodes


def unique_dense(values: I64) -> tuple[I64, I64]:
    """`np.unique(values, return_inverse=True)`, exactly, for non-negative integers spread
    over a range no wider than twice their count (internal node ids of a store's holder rows:
    Neo4j allocates them densely): a bitmap and a running count instead of a sort, 10x faster
    on the full export's 10.3M rows (1.9 s). Anything else goes to `np.unique`."""
    if not values.size or values.min() < 0 or values.max() >= 2 * values.size + 1024:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique.astype(np.int64), inverse.astype(np.int64)
    present = np.zeros(int(values.max()) + 1, bool)
    present[values] = True
    index = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), index[values]


def kind_share(inc: Incidence) -> F64:
    """Per incidence row: 1 / (identifiers of that kind its holder has).

    Each kind then gives an account at most its base weight in total, however many identifiers
    of it the account holds: 80 near-duplicate template bands or 6 proxy exits do not outweigh
    one shared card.
    """
    # Kind-major (< kinds x accounts: counted directly): rows come in runs of one kind, so
    # the gather reads one kind's counts at a time; holder-major it jumped across the whole
    # table at every row, 8x slower at full usage (3.0 s for 18.4M rows, the same counts).
    key = inc.kind[inc.identifier_of_row] * max(inc.accounts, 1) + inc.holders
    return np.asarray(1.0 / np.bincount(key)[key], np.float64)


def shuffle_within(group: I64, draw: F64) -> I64:
    """`np.lexsort((draw, group))` for non-decreasing `group` and `draw` in [0, 1), three times
    faster: one float sort of `group + draw`. Rounding is monotone, so that key orders any two
    rows as the lexsort does unless the two keys come out equal; runs of equal keys (a few
    in millions) are put in lexsort's order afterwards. The same permutation, exactly."""
    key = group.astype(np.float64) + draw
    perm = np.argsort(key)
    ordered = key[perm]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if tied.size:
        starts = tied[np.r_[True, tied[1:] != tied[:-1] + 1]]
        ends = tied[np.r_[tied[1:] != tied[:-1] + 1, True]] + 2
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            run = np.sort(perm[a:b])
            perm[a:b] = run[np.lexsort((draw[run], group[run]))]
    return np.asarray(perm, np.int64)


def thin(
    inc: Incidence,
    sampled: I64,
    own_rounds: npt.NDArray[np.int_],
    exact_max: int,
    rng: np.random.Generator,
) -> tuple[I64, F64, I64, I64, npt.NDArray[np.int_]]:
    """The sampled identifiers' incidence rows that link: of an account's rows of one kind,
    ceil(exact_max / (2 x rounds)) at random (all, if it has fewer).

    An account's weight from a kind does not grow with how many identifiers of it it holds
    (`kind_share`), but its sampled pairs did: two per row and round. At the `full` preset's
    full usage a network member holds ~200 coincidences of its client build or subnet with a
    template band, each held by 2,000-3,700 members, and those rows made 16M of the 24M
    pairs (17.1M edges; Leiden's time follows them). A row is kept with probability q =
    min(1, budget / rows of that kind the account holds): the budget gives an account about
    `exact_max` partners per kind, what one exact clique gives it. A thin member (a few bands)
    keeps every row.

    Returns the kept rows and their 1 / q, and per identifier still linking (two kept holders
    or more) its kept count, the identifier and its rounds. Two kept rows are adjacent in a
    ring of s kept rows with probability 2 / (s - 1), against 2 / (d - 1) among all d, so a
    pair's weight times (s - 1) / (d - 1) / (q_i q_j) is, in expectation, the weight that
    pair had: every account keeps its expected weight from each identifier, whatever its
    partners' q (a thin account beside heavy ones is not inflated)."""
    sizes = np.diff(inc.ptr)[sampled]
    rows = np.repeat(inc.ptr[sampled], sizes) + (
        np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    )
    budget = np.ceil(exact_max / (2 * np.repeat(own_rounds, sizes)))
    holder, kind = inc.holders[rows], np.repeat(inc.kind[sampled], sizes)
    key = holder * len(inc.kinds) + kind
    # Counted kind-major, as `kind_share` counts (the same counts, faster); the shuffle below
    # keeps the holder-major key, since its float key's rounding decides which draws tie.
    counted = kind * max(inc.accounts, 1) + holder
    held = np.bincount(counted)[counted]
    q = np.minimum(1.0, budget / held)
    # Exactly `budget` of each account's rows of a kind, drawn without replacement: each row
    # kept with probability q, and no member left without a row by the draw.
    order = np.argsort(key + rng.random(rows.size))  # within each key, a random order
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    keep = np.zeros(rows.size, bool)
    keep[order] = np.arange(order.size) - start < budget[order]
    group = np.repeat(np.arange(sampled.size), sizes)
    left = np.bincount(group[keep], minlength=sampled.size)
    keep &= (left >= 2)[group]
    linking = left >= 2
    return (
        rows[keep], 1.0 / q[keep], left[linking].astype(np.int64), sampled[linking],
        own_rounds[linking],
    )  # fmt: skip


def project(
    inc: Incidence,
    weights: dict[str, float],
    link_cap: int,
    exact_max: int,
    rounds: int,
    seed: int,
) -> sparse.csr_matrix:
    """Symmetric account x account weight matrix (zero diagonal)."""
    total = holder_weight(inc, weights)
    local = np.diff(inc.ptr)  # holders exported (== degree unless filtered)
    capped = inc.degree > link_cap
    if inc.variants is not None:
        capped |= inc.variants
    if inc.uncapped is not None:
        capped &= ~inc.uncapped
    linking = ~capped & (local >= 2) & (total > 0)
    src: list[npt.NDArray[Any]] = []
    dst: list[npt.NDArray[Any]] = []
    val: list[F64] = []

    factor = kind_share(inc)
    # Pair ends as int32 when accounts fit: scipy stores the matrix's indices as int32 then,
    # and int64 ends were converted on the way (copies of tens of millions of entries).
    holders = inc.holders.astype(np.int32) if inc.accounts < 2**31 else inc.holders
    exact = linking & (local <= exact_max)
    for d in np.unique(local[exact]).tolist():
        sel = np.flatnonzero(exact & (local == d))
        rows_ = inc.ptr[sel][:, None] + np.arange(d)
        members = holders[rows_]
        iu, ju = np.triu_indices(d, 1)
        src.append(members[:, iu].ravel())
        dst.append(members[:, ju].ravel())
        pair = np.sqrt(factor[rows_][:, iu] * factor[rows_][:, ju])
        # Split over all holders (degree), not the exported ones: on a region (incremental
        # refresh) a holder keeps the weight it has towards the region's accounts in the whole
        # graph; on the whole graph the two are the same.
        val.append((pair * (total[sel] / (inc.degree[sel] - 1))[:, None]).ravel())

    sampled = np.flatnonzero(linking & (local > exact_max))
    if sampled.size:
        # Weak kinds get fewer rounds: a /24 at weight 0.1 never decides a community, and its
        # thousands of sampled pairs would be most of the edges Leiden has to walk.
        base = np.array([weights.get(k, 0.0) for k in inc.kinds])[inc.kind[sampled]]
        strongest = max([weights.get(k, 0.0) for k in inc.kinds] + [1e-12])
        own_rounds = np.maximum(1, np.rint(rounds * base / strongest)).astype(int)
        rows, inverse_q, sizes, sampled, own_rounds = thin(
            inc, sampled, own_rounds, exact_max, np.random.default_rng([seed, 1])
        )
        group = np.repeat(np.arange(sampled.size), sizes)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        position = np.arange(int(sizes.sum())) - starts
        row_rounds = np.repeat(own_rounds, sizes)
        kept = (local[sampled] - 1) / np.maximum(inc.degree[sampled] - 1, 1)  # 1 on the whole graph
        thinned = (sizes - 1) / (local[sampled] - 1)  # `thin`: with 1 / (q_i q_j) per pair
        pair_w = np.repeat(total[sampled] * kept * thinned / (2 * own_rounds), sizes)
        row_factor = factor[rows] * inverse_q**2  # under the square root: 1 / q per end
        partner = starts + (position + 1) % np.repeat(sizes, sizes)
        order = np.arange(rows.size)
        rng = np.random.default_rng(seed)
        for r in range(int(own_rounds.max(initial=0))):
            draw = rng.random(rows.size)  # drawn for every row each round: the same stream
            # Only identifiers with rounds left are shuffled (whole identifiers: each keeps its
            # block of positions, so this is the full shuffle restricted to them); past the
            # weak kinds' rounds that is a few strong identifiers, not every sampled row.
            live = np.flatnonzero(row_rounds > r)
            order[live] = live[shuffle_within(group[live], draw[live])]
            mate = partner[live]
            share, share_mate = row_factor[order[live]], row_factor[order[mate]]
            src.append(holders[rows[order[live]]])
            dst.append(holders[rows[order[mate]]])
            val.append(pair_w[live] * np.sqrt(share * share_mate))

    n = inc.accounts
    if not src:
        return sparse.csr_matrix((n, n))
    s, d_, w = np.concatenate(src), np.concatenate(dst), np.concatenate(val)
    keep = s != d_
    if not keep.all():
        s, d_, w = s[keep], d_[keep], w[keep]
    upper = sparse.coo_matrix((w, (s, d_)), shape=(n, n)).tocsr()
    return (upper + upper.T).tocsr()


@dataclass
class Quotient:
    """The projection summed over clusters, as its expected values (no sampled pairs)."""

    between: sparse.csr_matrix  # cluster x cluster weight, zero diagonal
    strength: F64  # per cluster: its members' total link weight
    inside: F64  # per cluster: weight between its own members, each pair counted twice
    total: float  # the whole projection's weight, each pair counted twice (2m)


def quotient(inc: Incidence, labels: I64, weights: dict[str, float], link_cap: int) -> Quotient:
    """What `project(inc, weights, ...)` puts between and inside the clusters of `labels`,
    computed from the incidence: each identifier adds `total / (degree - 1) x
    sqrt(share_i x share_k)` per pair of holders, as the exact clique does and the sampled
    pairs do on average. A few sparse products over the clustered rows, where a second
    projection would draw every pair again."""
    n_c = int(labels.max()) + 1 if (labels >= 0).any() else 0
    total = holder_weight(inc, weights)
    local = np.diff(inc.ptr)
    capped = inc.degree > link_cap
    if inc.variants is not None:
        capped |= inc.variants
    if inc.uncapped is not None:
        capped &= ~inc.uncapped
    linking = ~capped & (local >= 2) & (total > 0)
    per_pair = np.where(linking, total / np.maximum(inc.degree - 1, 1), 0.0)
    ident = inc.identifier_of_row
    root = np.sqrt(kind_share(inc)) * linking[ident]
    held = np.bincount(ident, weights=root, minlength=inc.degree.size)
    pair_row = per_pair[ident]
    row_strength = root * pair_row * (held[ident] - root)
    lab = labels[inc.holders]
    rows = np.flatnonzero((lab >= 0) & (root > 0))
    spread = sparse.csr_matrix(
        (root[rows] * np.sqrt(pair_row[rows]), (lab[rows], ident[rows])),
        shape=(n_c, inc.degree.size),
    )
    between = (spread @ spread.T).tocsr()
    own = np.bincount(lab[rows], weights=root[rows] ** 2 * pair_row[rows], minlength=n_c)
    inside = between.diagonal() - own
    between.setdiag(0)
    between.eliminate_zeros()
    strength = np.bincount(lab[rows], weights=row_strength[rows], minlength=n_c)
    return Quotient(between, strength.astype(np.float64), inside, float(row_strength.sum()))


CONJUNCTION = "&"  # a conjunction's kind is "<kind>&<kind>"


# Two band values at one position this many bits apart or fewer are one prompt's variants: a
# prompt with a few words changed flips a few bits of its SimHash, and 3 of 64 is the
# near-duplicate distance SimHash was designed and measured for (Manku, Jain and Das Sarma,
# "Detecting near-duplicates for web crawling", WWW 2007), so no more than 3 of a band's 16.
# Two unrelated prompts' values are this close by chance 1.1% of the time (697 of 2^16), at
# one position of four.
NEAR_BITS = 3


def _band_values(keys: list[str]) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Band keys' ("2:12be") values, and which keys have one (hexadecimal after the colon)."""
    digits = [k.partition(":")[2] for k in keys]
    hexadecimal = np.array([bool(d) and all(c in "0123456789abcdef" for c in d) for d in digits],
                           bool)  # fmt: skip
    value = np.array([int(d, 16) if h else 0 for d, h in zip(digits, hexadecimal, strict=True)],
                     np.int64)  # fmt: skip
    return value, hexadecimal


def prompt_of(inc: Incidence, link_cap: int, eligible: npt.NDArray[np.bool_] | None = None) -> I64:
    """Per identifier: the common prompt it is an edit of, or -1. An edit is a template band
    within NEAR_BITS of a band at its position held by more accounts and by more than the link
    cap (of two as common, the second in the incidence's order is the edit); its prompt is
    the one of those with the most holders. `eligible`: which identifiers may be prompts
    (all common bands when None).

    Such an edit never pairs with its prompt in a conjunction: held mostly by the prompt's
    senders, every prompt paired with its edits (330,803 conjunctions of 134M rows at the
    `full` preset's full usage, where the prompts' own pairs are 63). And it does not link
    when its prompt is an SDK's default (`conjunctions`)."""
    out = np.full(inc.degree.size, -1, np.int64)
    position = inc.band_position
    bands = np.flatnonzero(position >= 0)
    if not bands.size:
        return out
    value, ok = _band_values([inc.keys[j] for j in bands.tolist()])
    bands, value = bands[ok], value[ok]
    flips = [bits for r in range(1, NEAR_BITS + 1)
             for bits in itertools.combinations(range(LSH_BAND_BITS), r)]  # fmt: skip
    masks = np.array([sum(1 << b for b in bits) for bits in flips], np.int64)
    for p in np.unique(position[bands]).tolist():
        at = position[bands] == p
        j, v = bands[at], value[at]
        common = inc.degree[j] > link_cap
        if eligible is not None:
            common &= eligible[j]
        if not common.any():
            continue
        # Bands ranked by holders, ties by order; each common value's neighbours that are
        # bands here (looked up among the position's values), and the best rank each is near.
        by_rank = np.lexsort((np.arange(j.size), -inc.degree[j]))
        rank = np.empty(j.size, np.int64)
        rank[by_rank] = np.arange(j.size)
        order = np.argsort(v)
        near = (v[common][:, None] ^ masks[None, :]).ravel()
        spot = np.minimum(np.searchsorted(v[order], near), v.size - 1)
        hit = v[order][spot] == near
        best = np.full(j.size, j.size, np.int64)
        np.minimum.at(best, order[spot[hit]], np.repeat(rank[common], masks.size)[hit])
        edit = best < rank
        out[j[edit]] = j[by_rank[best[edit]]]
    return out


def _rows_of(inc: Incidence, ids: I64) -> sparse.csr_matrix:
    """`ids`' holders, one row each (identifiers x accounts)."""
    lengths = np.diff(inc.ptr)[ids]
    of_row = np.repeat(np.arange(ids.size), lengths)
    rows = np.arange(of_row.size) + np.repeat(inc.ptr[ids] - (np.cumsum(lengths) - lengths),
                                              lengths)  # fmt: skip
    return sparse.csr_matrix((np.ones(rows.size, np.float32), (of_row, inc.holders[rows])),
                             shape=(ids.size, inc.accounts))  # fmt: skip


def _sdk_defaults(
    inc: Incidence, prompt: I64, min_overlap: float, false_rate: float
) -> npt.NDArray[np.bool_]:
    """Per identifier: a common prompt with edits (`prompt`) that an SDK's releases explain:
    at least `min_overlap` of its holders are on client builds they are above chance on and
    are a minority of, where less than `min_overlap` of the build's holders hold any prompt
    above chance on it (a release everyone runs, where the users who keep its defaults send
    them; an operator's build runs its accounts only, and each sends one of its templates).

    Those prompts' edits do not link (`conjunctions`): each edit of a prompt thousands send is
    held by tens of its heavy users, under the cap, and linked them all. Fresh draws 181-183
    and 185 (2026-12-04): agent SDKs' users, four calls or more each, in clusters of
    17,000-30,000 that took in a behaviour-only network and were flagged with it
    (13,300-29,297 genuine accounts, precision 0.39-0.59, with the code before that day
    too: the generator's shape was new). Capping the edits of every prompt over the cap lost
    networks whose templates are over it and whose edits linked them (fresh draws 184 and
    187: 0.470 and 0.000 flagged); a network on popular builds is on each in proportion to
    its use, never above chance."""
    out = np.zeros(inc.degree.size, bool)
    heads = np.unique(prompt[prompt >= 0])
    build = inc.kinds.index(BUILD_KIND) if BUILD_KIND in inc.kinds else -1
    builds = np.flatnonzero(inc.kind == build)
    if not heads.size or not builds.size:
        return out
    held, on = _rows_of(inc, heads), _rows_of(inc, builds)
    size = np.diff(held.indptr)
    degree = inc.degree[builds]
    on_build = _on_builds(held, size, on, degree, inc.population, false_rate)
    row, col, above = on_build.row, on_build.col, on_build.above
    # Per build, its holders holding a prompt above chance on it, each counted once.
    which = sparse.csr_matrix((np.ones(int(above.sum()), np.float32), (col[above], row[above])),
                              shape=(builds.size, heads.size))  # fmt: skip
    covered = np.diff(((which @ held) > 0).multiply(on).tocsr().indptr)
    out[heads] = on_build.explained(covered < min_overlap * degree, size, min_overlap)
    return out


@dataclass
class _OnBuilds:
    """Per (row, build) pair with holders in common: the row, the build, how many hold both,
    and whether that is above chance (`_on_builds`)."""

    row: I64
    col: I64
    count: I64
    above: npt.NDArray[np.bool_]

    def explained(
        self, public: npt.NDArray[np.bool_], size: I64, min_overlap: float
    ) -> npt.NDArray[np.bool_]:
        """Per row: whether `min_overlap` of its `size` holders are on `public` builds they
        are above chance on (an SDK's releases, `_sdk_defaults` and `_sdk_prompts`)."""
        chance = self.above & public[self.col]
        explained = np.bincount(self.row[chance], weights=self.count[chance], minlength=size.size)
        out: npt.NDArray[np.bool_] = explained >= min_overlap * size
        return out


def _on_builds(
    held: sparse.csr_matrix, size: I64, on: sparse.csr_matrix, degree: I64, population: int,
    false_rate: float,
) -> _OnBuilds:  # fmt: skip
    """The holders `held`'s rows (`size` each) share with each build (`on`'s rows, `degree`
    each), tested as the template bands' floor tests them: holders of both ~ Poisson with mean
    size x degree / population, kept above its (1 - false_rate) quantile."""
    both = (held @ on.T).tocoo()
    count = both.data.astype(np.int64)
    expected = size[both.row] * degree[both.col] / max(population, 1)
    above = count >= chance_floors(expected, false_rate)
    return _OnBuilds(both.row.astype(np.int64), both.col.astype(np.int64), count, above)


def _capped_edits(
    inc: Incidence, link_cap: int, public: npt.NDArray[np.bool_], min_overlap: float
) -> npt.NDArray[np.bool_] | None:
    """Edits of the `public` prompts (an SDK's defaults, `_sdk_defaults`): within NEAR_BITS
    of one, and held mostly (`min_overlap`) by accounts that send it too. Capped.

    Twenty SDK defaults at a position put one value in five within NEAR_BITS of one of them
    by chance; a network's edits there are held by the senders of its template, not of the
    default (draw 187: a fifth of a behaviour-only network's template rows were capped on
    nearness alone, and it was lost)."""
    if not public.any():
        return None
    prompt = prompt_of(inc, link_cap, public)
    edits = np.flatnonzero(prompt >= 0)
    if not edits.size:
        return None
    both = _rows_of(inc, edits).multiply(_rows_of(inc, prompt[edits])).tocsr()
    capped = np.zeros(inc.degree.size, bool)
    capped[edits] = np.diff(both.indptr) >= min_overlap * np.diff(inc.ptr)[edits]
    return capped if capped.any() else None


def _overlaps(
    b: sparse.csr_matrix,
    kind: I64,
    kinds: tuple[str, ...],
    position: I64,
    heads: npt.NDArray[np.bool_],
) -> tuple[I64, I64, I64]:
    """Every pair (a, c), a < c, of `b`'s rows (identifiers x holders) sharing holders, with
    the count: the upper triangle of `b @ b.T`, in its order, for pairs of different kinds
    whenever one is a template band, and pairs of `heads` (bands that are no edit of another,
    `prompt_of`) at the same `position`.

    A network member holds ~200 bands above the cap and two or three other such identifiers;
    the full product costs the square of what each account holds (~40,000 per member: 6.9 s
    at the `full` preset's full usage), the bands' rows against the other kinds' only ~400, a
    position's heads against each other a few. Each row's columns come out in the full
    product's order (the order sparse products first meet them in, which a subset of the
    columns keeps), so the pairs and their order, hence everything after them, are the
    same."""
    template = kinds.index(TEMPLATE_KIND) if TEMPLATE_KIND in kinds else -1
    bands, others = np.flatnonzero(kind == template), np.flatnonzero(kind != template)
    blocks = [(bands, others), (others, np.arange(kind.size))]
    for p in np.unique(position[bands]).tolist():
        same = bands[heads[bands] & (position[bands] == p)]
        if p >= 0 and same.size >= 2:
            blocks.append((same, same))
    parts = []
    for rows, cols in blocks:
        if not rows.size or not cols.size:
            continue
        product = (b[rows] @ b[cols].T).tocsr()  # no re-sort: each row keeps its order
        row = rows[np.repeat(np.arange(rows.size), np.diff(product.indptr))]
        col = cols[product.indices[: row.size]]
        parts.append(np.column_stack([row, col, product.data[: row.size].astype(np.int64)]))
    if not parts:
        return (np.zeros(0, np.int64),) * 3
    every = np.concatenate(parts)
    every = every[every[:, 0] < every[:, 1]]
    every = every[np.argsort(every[:, 0], kind="stable")]
    return every[:, 0], every[:, 1], every[:, 2]


# Rows lined up at a time by `common_holders`: a region at full usage lines up ~93M (its
# ~15,000 pairs of a band of thousands and the client build or exit it coincides with); all at
# once they were ~1 GB of fresh memory and 1.6 s of page faults before any work. ~50 MB a time.
COMMON_CHUNK = 4_000_000


def common_holders(b: sparse.csr_matrix, a: I64, c: I64) -> tuple[I64, I64]:
    """For each pair (a[k], c[k]) of `b`'s rows, the holders both hold, ascending
    (`np.intersect1d` of the two rows), concatenated, and how many each pair has.

    Elementwise products of the rows lined up (in C), COMMON_CHUNK entries at a time,
    instead of an `intersect1d` per pair: a region at full usage has ~15,000 pairs, whose
    sorts took 1.4 s (profiled)."""
    sizes = np.diff(b.indptr)
    chunk = (np.cumsum(sizes[a] + sizes[c]) - 1) // COMMON_CHUNK  # non-decreasing
    cuts = np.r_[0, np.flatnonzero(np.diff(chunk)) + 1, a.size]
    members, lengths = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start, stop in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        if start == stop:
            continue
        both = b[a[start:stop]].multiply(b[c[start:stop]]).tocsr()
        both.sort_indices()  # `b`'s rows need not be: its order is the products' (above)
        members.append(both.indices.astype(np.int64))
        lengths.append(np.diff(both.indptr).astype(np.int64))
    return np.concatenate(members), np.concatenate(lengths)


def _split_over_builds(
    b: sparse.csr_matrix,
    builds: npt.NDArray[np.bool_],
    pairs: tuple[I64, I64, I64],
    described: npt.NDArray[np.bool_],
    new: npt.NDArray[np.bool_],
    min_overlap: float,
) -> npt.NDArray[np.bool_]:
    """Of the `new` pairs (an identifier and a client build, above chance, not kept on their
    own), those of identifiers whose holders are at least `min_overlap` on the builds of their
    `described` pairs (`new` and those kept on their own) together (`conjunctions`); `pairs`
    are `b`'s rows and their common holders' counts, `builds` marks `b`'s rows of builds."""
    a, c, n = pairs
    sizes = np.diff(b.indptr)
    out = np.zeros(new.size, bool)
    other = np.where(builds[c], a, c)  # the pair's identifier that is not the build
    wanted = min_overlap * sizes
    # Only identifiers with a new pair, and of those only the ones the pairs' sum (a bound on
    # the union) lets through: at the `full` preset's full usage, 9,362 pairs with builds hold
    # ~7M common holders, nearly all of identifiers the rule above decides alone, and counting
    # their union took 5.4 s.
    undecided = np.zeros(sizes.size, bool)
    undecided[other[new]] = True
    chosen = np.flatnonzero(described & undecided[other])
    bound = np.bincount(other[chosen], weights=n[chosen], minlength=sizes.size)
    chosen = chosen[bound[other[chosen]] >= wanted[other[chosen]]]
    if not chosen.size:
        return out
    # The sum counts an account once per build of the identifier it holds: only accounts on
    # two builds or more are counted again, so only their common holders are read.
    count = bound
    again = np.asarray(b[np.flatnonzero(builds)].sum(axis=0)).ravel() >= 2
    if again.any():
        twice = b.multiply(sparse.csr_matrix(again, dtype=b.dtype)).tocsr()
        members, lengths = common_holders(twice, a[chosen], c[chosen])
        owner = np.repeat(other[chosen], lengths)
        seen = np.unique(owner * np.int64(b.shape[1]) + members)
        count = bound - np.bincount(owner, minlength=sizes.size)
        count += np.bincount(seen // b.shape[1], minlength=sizes.size)
    out[new] = count[other[new]] >= wanted[other[new]]
    return out


def _described_builds(
    b: sparse.csr_matrix,
    build: I64,
    pairs: tuple[I64, I64, I64],
    described: npt.NDArray[np.bool_],
    chosen: npt.NDArray[np.bool_],
    min_overlap: float,
    degree: I64,
) -> npt.NDArray[np.bool_]:
    """Of the `chosen` pairs with a client build (`build`: each pair's end that is one), those
    whose build has at least `min_overlap` of its holders holding an identifier it is
    `described` with (`conjunctions`). An operator's build runs its accounts only, and they
    hold its templates; an SDK's release runs everyone's, and its default prompt is sent only
    by the users who keep it. Without this, genuine users sending an SDK's default linked per
    release and formed clusters of tens of thousands that took in the networks beside them and
    were flagged with them (fresh draws 132-134, `docs/detection.md`, "Projection").

    Of all its holders (`degree`, per row of `b`), not of those `b` holds: in a region (an
    incremental refresh) they are the ones the change reached, and a cluster of a default's
    senders there made a release look described (fresh draw 151: 766 genuine accounts banned
    by the incremental refresh only)."""
    a, c, n = pairs
    wanted = min_overlap * degree
    asked = np.zeros(degree.size, bool)
    asked[build[chosen]] = True
    rows = np.flatnonzero(described & asked[build])
    # A build one pair alone describes needs no count (6 of the 7 builds asked about on the
    # `full` snapshot: an operator's exit pool or template most of its accounts hold).
    ends = build[rows]
    most = np.zeros(degree.size, n.dtype)
    np.maximum.at(most, ends, n[rows])
    rows = rows[most[ends] < wanted[ends]]
    members, lengths = common_holders(b, a[rows], c[rows])
    owner = np.repeat(build[rows], lengths)
    held = np.unique(owner * np.int64(b.shape[1]) + members) // b.shape[1]
    covered = np.bincount(held, minlength=degree.size)
    out: npt.NDArray[np.bool_] = (most[build] >= wanted[build]) | (covered[build] >= wanted[build])
    return out


def _described_elsewhere(
    b: sparse.csr_matrix,
    pairs: tuple[I64, I64],
    kept: npt.NDArray[np.bool_],
    bands: I64,
    min_overlap: float,
) -> npt.NDArray[np.bool_]:
    """Per pair of `bands` (indices into `pairs`, two template bands each), whether at least
    `min_overlap` of its holders hold a `kept` coincidence of other kinds already.

    A pair of templates is for a population nothing else describes (draw 176's network, on
    popular builds, with no other coincidence). Where one does (a network's template on its
    build, its exits), the pair only adds weight to what is linked, and moves the communities
    other populations are found in: on fresh draw 187 the pairs of four networks flagged
    either way left a fifth, a 2,246-account behaviour-only network tied by its templates'
    edits inside a community of 13,920 genuine accounts, unflagged (0.000 instead of 0.999)."""
    a, c = pairs
    members, lengths = common_holders(b, a[bands], c[bands])
    # Only the band pairs' holders are asked about: the other pairs' common holders among
    # them (at the `full` preset's full usage, all the kept pairs' were 1.5 s of 5.9).
    asked, where = np.unique(members, return_inverse=True)
    held = np.zeros(asked.size, bool)
    among, _ = common_holders(b[:, asked].tocsr(), a[kept], c[kept])
    held[among] = True
    inside = np.bincount(np.repeat(np.arange(bands.size), lengths), weights=held[where],
                         minlength=bands.size)  # fmt: skip
    out: npt.NDArray[np.bool_] = inside >= min_overlap * lengths
    return out


def _sdk_prompts(
    inc: Incidence,
    b: sparse.csr_matrix,
    pairs: tuple[I64, I64],
    min_overlap: float,
    false_rate: float,
) -> npt.NDArray[np.bool_]:
    """Per pair of `b`'s rows (two template bands, `pairs`), whether it is an SDK's default
    prompts: at least `min_overlap` of its holders are on client builds they are above chance
    on, of which they are a minority (a build where less than `min_overlap` of all its holders
    hold a band pair at all: a release everyone runs, not an operator's own).

    An agent SDK whose default is a planning prompt and a tool prompt has its users who keep
    it send both, from its releases and from nowhere else: the pair describes them as it
    describes a network's two templates. Without this, fresh draws 181-183 (2026-12-04) linked
    those users per SDK and flagged 13,324-29,295 genuine accounts (precision 0.39-0.59).
    An operator's build runs its accounts only, and they all send its templates; a network
    on popular builds is on each in proportion to its use, not above chance (draw 176's).
    Summed over builds: an account on two counts twice, which only ever drops more pairs."""
    a, c = pairs
    members, lengths = common_holders(b, a, c)
    build = inc.kinds.index(BUILD_KIND) if BUILD_KIND in inc.kinds else -1
    builds = np.flatnonzero(inc.kind == build)
    if not builds.size or not a.size:
        return np.zeros(a.size, bool)
    on = _rows_of(inc, builds)
    held = sparse.csr_matrix((np.ones(members.size, np.float32),
                              (np.repeat(np.arange(a.size), lengths), members)),
                             shape=(a.size, inc.accounts))  # fmt: skip
    paired = np.zeros(inc.accounts, np.float32)
    paired[members] = 1
    degree = inc.degree[builds]
    on_build = _on_builds(held, lengths, on, degree, inc.population, false_rate)
    return on_build.explained(on @ paired < min_overlap * degree, lengths, min_overlap)


def conjunctions(
    inc: Incidence,
    weights: dict[str, float],
    link_cap: int,
    min_overlap: float = 0.5,
    false_rate: float = 1e-6,
) -> tuple[Incidence, dict[str, float]]:
    """`inc` plus, as identifiers of their own, the coincidences of common identifiers.

    An identifier held by more accounts than the link cap does not link: a carrier NAT, a public
    template, a popular client build are common. But when most holders of one such identifier
    also hold another of a different kind (a template and a client build, an exit pool and a
    template, a coworking NAT and a template), and far more accounts hold both than chance
    explains (holders of the pair ~ Poisson with mean d_a x d_b / N; kept above its
    (1 - false_rate) quantile, the same test as template bands' `chance_floor`), the pair is as
    specific as a rare identifier: one operator's accounts, however many. Those pairs link
    their common holders, exempt from the cap, weighted as the stronger of the two kinds.

    `min_overlap`: the share of the smaller identifier's holders that hold the other too. At
    one half, a pair is kept only when it describes most of a population, not a corner of it:
    geography or a popular client among a template's users gives a few percent.

    An operator that splits its accounts over several client builds of its own (and some on
    popular ones) leaves each build with less than half of a template's holders, so no pair
    described its population: fresh draws 114 and 118, behaviour-only networks of 8,485 and
    3,053 accounts on two own builds and a fifth on public ones, were 0.116 and 0.000 flagged
    (`docs/detection.md`, "Projection"). So an identifier's pairs with builds are also kept
    when each is above chance and together they hold `min_overlap` of its holders
    (`_split_over_builds`): the share of it the builds describe, counted once per holder.
    Builds only: an account runs one or a few, and they say who wrote the client, not where
    an account is (subnets would let a template popular in one country pass on geography).

    Two template bands at the same position are two different prompts (an account's prompt
    has one value there), so a pair of them held by most of the smaller's holders, above
    chance, is one population sending two templates, which a public template alone does not.
    Only each prompt's value counts, not its edits (`prompt_of`). Fresh draw
    176's behaviour-only network of 14,969 accounts, 78% of them on popular SDK builds, each
    sending two of six templates, had no other coincidence and was 0.000 flagged
    (`docs/detection.md`, "Projection").

    Edits of a common prompt (`prompt_of`) do not link when an SDK's releases explain the
    prompt (`_sdk_defaults`): an SDK's default, whose every heavy user holds a few edits.
    """
    prompt = prompt_of(inc, link_cap)
    variants = _capped_edits(inc, link_cap, _sdk_defaults(inc, prompt, min_overlap, false_rate),
                             min_overlap)  # fmt: skip
    w = np.array([weights.get(k, 0.0) for k in inc.kinds])
    local = np.diff(inc.ptr)
    high = np.flatnonzero((inc.degree > link_cap) & (w[inc.kind] > 0) & (local >= 2))
    if high.size < 2:
        return replace(inc, variants=variants), weights
    sizes = local[high]
    b = _rows_of(inc, high)
    position = inc.band_position
    a, c, n = _overlaps(b, inc.kind[high], inc.kinds, position[high], prompt[high] < 0)
    ka, kc = inc.kind[high[a]], inc.kind[high[c]]
    nested = np.array([[frozenset({x, y}) in NESTED_LINKS for y in inc.kinds] for x in inc.kinds])
    expected = inc.degree[high[a]] * inc.degree[high[c]] / max(inc.population, 1)
    pa, pc = position[high[a]], position[high[c]]
    distinct = ((ka != kc) & ~nested[ka, kc]) | ((ka == kc) & (pa >= 0) & (pa == pc))
    keep = distinct & (n >= min_overlap * np.minimum(sizes[a], sizes[c]))
    build = inc.kinds.index(BUILD_KIND) if BUILD_KIND in inc.kinds else -1
    with_build = distinct & ((ka == build) | (kc == build))
    split = with_build & ~keep & (n > expected)
    # The chance test last, on the pairs the rest kept and those a build may describe with
    # others: a Poisson quantile costs microseconds each, and most pairs fail both (0.9 s for a
    # region's pairs, profiled).
    candidates = np.flatnonzero(keep | split)
    above = np.zeros(keep.size, bool)
    above[candidates] = n[candidates] >= chance_floors(expected[candidates], false_rate)
    keep &= above
    described, new = with_build & (keep | split) & above, split & above
    keep |= _split_over_builds(b, inc.kind[high] == build, (a, c, n), described, new, min_overlap)
    on_build = keep & with_build
    if on_build.any():
        ends = np.where(inc.kind[high[a]] == build, a, c)
        keep[on_build] = _described_builds(b, ends, (a, c, n), described, on_build,
                                           min_overlap, inc.degree[high])[on_build]  # fmt: skip
    bands = np.flatnonzero(keep & (ka == kc))
    if bands.size:
        keep[bands] = ~_sdk_prompts(inc, b, (a[bands], c[bands]), min_overlap, false_rate)
        keep[bands] &= ~_described_elsewhere(b, (a, c), keep & (ka != kc), bands, min_overlap)
    if not keep.any():
        return replace(inc, variants=variants), weights
    a, c, n = a[keep], c[keep], n[keep]
    pair_kinds = [CONJUNCTION.join(sorted((inc.kinds[x], inc.kinds[y])))
                  for x, y in zip(inc.kind[high[a]].tolist(), inc.kind[high[c]].tolist(),
                                  strict=True)]  # fmt: skip
    kinds = tuple(dict.fromkeys([*inc.kinds, *pair_kinds]))
    extended = dict(weights)
    for name in kinds[len(inc.kinds) :]:
        extended[name] = max(weights.get(part, 0.0) for part in name.split(CONJUNCTION))
    members, lengths = common_holders(b, a, c)
    uncapped = np.zeros(inc.degree.size, bool) if inc.uncapped is None else inc.uncapped
    # A band's coincidence with a client build, an exit or a band at its position is a match
    # at that position.
    return Incidence(
        kind=np.concatenate([inc.kind, [kinds.index(k) for k in pair_kinds]]).astype(np.int64),
        degree=np.concatenate([inc.degree, lengths]),
        keys=[*inc.keys, *(f"{inc.keys[high[x]]}{CONJUNCTION}{inc.keys[high[y]]}"
                           for x, y in zip(a.tolist(), c.tolist(), strict=True))],
        ptr=np.concatenate([inc.ptr, inc.ptr[-1] + np.cumsum(lengths)]),
        holders=np.concatenate([inc.holders, members]).astype(np.int64),
        kinds=kinds,
        accounts=inc.accounts,
        population=inc.population,
        uncapped=np.concatenate([uncapped, np.ones(lengths.size, bool)]),
        variants=None if variants is None
        else np.concatenate([variants, np.zeros(lengths.size, bool)]),
        positions=np.concatenate([position, np.maximum(position[high[a]], position[high[c]])]),
    ), extended  # fmt: skip
