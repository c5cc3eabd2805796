"""Detection's pure parts on hand-built incidences: projection weights, the IDF discount, the
cap, the sampled cliques, features and risk, membership confidence, stable cluster IDs."""

from __future__ import annotations

import igraph as ig
import numpy as np
import numpy.typing as npt
import pytest
from scipy import sparse

from backend.detection.communities import _pairs, leiden
from backend.detection.identity import assign, membership_changes, new_id
from backend.detection.projection import (
    Incidence,
    band_floor,
    chance_floor,
    chance_floors,
    common_holders,
    kind_share,
    project,
    rarity,
    shuffle_within,
    unique_counts,
    unique_dense,
    unique_runs,
)
from backend.detection.records import Memberships
from backend.detection.scoring import (
    ACCOUNT_COLUMNS,
    BIAS,
    COORDINATION,
    COORDINATION_CAP,
    RISK_WEIGHTS,
    behaviour_similarity,
    best_ties,
    confidence,
    evidence,
    row_max,
    score,
    thin_shrunk,
    tie_and_template_positions,
    tie_strength,
    top_floor,
)

W = {"PAID_WITH": 1.0, "USED_IP": 0.3, "USED_TEMPLATE": 0.35}


def incidence(
    groups: list[tuple[str, list[int]]],
    accounts: int,
    population: int = 1000,
    keys: list[str] | None = None,
) -> Incidence:
    """`keys`: each identifier's key where it matters (a template band's "position:bits")."""
    kinds = tuple(dict.fromkeys(k for k, _ in groups))
    lengths = [len(m) for _, m in groups]
    return Incidence(
        kind=np.array([kinds.index(k) for k, _ in groups]),
        degree=np.array(lengths),
        keys=keys or [f"{k}-{i}" for i, (k, _) in enumerate(groups)],
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        holders=np.concatenate([np.array(m) for _, m in groups]).astype(np.int64),
        kinds=kinds,
        accounts=accounts,
        population=population,
    )


def test_a_pair_gets_the_kind_weight_discounted_by_rarity() -> None:
    m = project(incidence([("PAID_WITH", [0, 1])], 2), W, 200, 32, 4, 1)
    assert m[0, 1] == pytest.approx(1.0) and m[1, 0] == pytest.approx(1.0)
    assert m[0, 0] == 0


def test_weight_is_split_among_holders_and_discounted_idf_style() -> None:
    card = project(incidence([("PAID_WITH", list(range(6)))], 6), W, 200, 32, 4, 1)
    # Each holder's total from the card = weight x rarity(6), spread over its 5 co-holders.
    assert card[0].sum() == pytest.approx(rarity(np.array([6]), 1000)[0])
    assert card[0, 1] == pytest.approx(card[0].sum() / 5)
    assert rarity(np.array([2, 6, 100]), 1000).tolist() == sorted(
        rarity(np.array([2, 6, 100]), 1000).tolist(), reverse=True
    )
    exit_ = project(incidence([("USED_IP", list(range(6)))], 6), W, 200, 32, 4, 1)
    assert exit_[0, 1] == pytest.approx(0.3 * card[0, 1])


def test_identifiers_above_the_cap_do_not_link() -> None:
    inc = incidence([("USED_IP", list(range(300))), ("PAID_WITH", [0, 1])], 300)
    m = project(inc, W, 200, 32, 4, 1)
    assert m.nnz == 2  # only the card pair
    assert m[0, 1] == pytest.approx(1.0)


def test_sampled_cliques_keep_each_holders_total_weight() -> None:
    inc = incidence([("USED_IP", list(range(100)))], 100)
    exact = project(inc, W, 200, 1000, 4, 1)
    sampled = project(inc, W, 200, 32, 4, 1)
    assert exact.nnz == 100 * 99
    assert sampled.nnz < exact.nnz / 5
    assert np.asarray(sampled.sum(axis=1)).ravel() == pytest.approx(
        np.asarray(exact.sum(axis=1)).ravel()
    )


def test_weak_kinds_get_fewer_sampled_pairs_with_the_same_totals() -> None:
    both = [("PAID_WITH", list(range(100))), ("USED_IP", list(range(100)))]
    exact = project(incidence(both, 100), W, 200, 1000, 4, 1)
    sampled = project(incidence(both, 100), W, 200, 32, 4, 1)
    card = project(incidence(both[:1], 100), W, 200, 32, 4, 1)
    ip = project(incidence([("PAID_WITH", [0, 1]), *both[1:]], 100), W, 200, 32, 4, 1)
    # The IP (weight 0.3 of the card's 1.0) gets round(4 x 0.3) = 1 round: 2 partners each.
    assert card.nnz > 700 and ip.nnz <= 2 * 100 + 2
    assert np.asarray(sampled.sum(axis=1)).ravel() == pytest.approx(
        np.asarray(exact.sum(axis=1)).ravel()
    )


def test_many_sampled_identifiers_of_a_kind_link_like_a_few() -> None:
    """A network of 400 whose members each hold 50 of its 60 template bands: their pairs no
    longer grow with the bands, their weight stays (in expectation); account 400, holding one
    band, keeps its row."""
    rng = np.random.default_rng(3)
    bands = [sorted(rng.choice(400, 334, replace=False).tolist()) for _ in range(60)]
    bands[0] = sorted([*bands[0], 400])
    inc = incidence([("USED_TEMPLATE", b) for b in bands], 401)
    every = project(inc, W, 1000, 1000, 4, 1)  # exact cliques: nothing sampled, nothing thinned
    thinned = project(inc, W, 1000, 32, 4, 1)
    partners = np.diff(thinned.indptr)
    # The kind's 4 rounds (the strongest here) leave a budget of ceil(32 / (2 x 4)) = 4 rows
    # of each member's ~50: at most 32 partners, against 399; account 400 keeps its row.
    assert partners[:400].max() <= 32 and np.diff(every.indptr)[:400].min() == 399
    assert 2 <= partners[400] <= 8
    strength = np.asarray(thinned.sum(axis=1)).ravel()
    exact = np.asarray(every.sum(axis=1)).ravel()
    assert strength[:400].mean() == pytest.approx(exact[:400].mean(), rel=0.05)
    # Paired with thinned members, its weight is theirs' to it: not inflated by their 1 / q.
    assert 0.5 < strength[400] / exact[400] < 2


@pytest.mark.parametrize("coarse", [False, True])
def test_the_sampling_shuffle_is_lexsorts_permutation(coarse: bool) -> None:
    """`shuffle_within` must give exactly lexsort's order, also where its float key ties
    (coarse draws; draws a hair below 1 meeting the next identifier's key)."""
    rng = np.random.default_rng(5)
    for _ in range(10):
        sizes = rng.integers(33, 3000, 200)
        group = np.repeat(np.cumsum(rng.integers(1, 3, sizes.size)), sizes)
        draw = rng.random(group.size)
        if coarse:
            draw = np.minimum(np.round(draw * 50) / 50, 1 - 1e-17)
        assert np.array_equal(shuffle_within(group, draw), np.lexsort((draw, group)))


def test_a_chance_floor_is_above_its_mean() -> None:
    """`split_bystanders` tests only counts over the mean against the floor: a count at or
    under the mean must never reach it, over the whole range of means a graph gives."""
    rng = np.random.default_rng(3)
    means = np.r_[0.0, 1e-12, rng.random(2_000) * 3, np.arange(0, 200, 0.25),
                  10 ** rng.uniform(-6, 6, 3_000), np.arange(1, 2_000.0)]  # fmt: skip
    assert (chance_floors(means) > means).all()


@pytest.mark.parametrize("layout", ["nearly sorted", "shuffled", "empty", "one"])
def test_unique_runs_and_counts_are_np_unique(layout: str) -> None:
    """`unique_runs` must give exactly `np.unique`'s keys, inverse and counts, and
    `unique_counts` its keys and counts, as int64."""
    rng = np.random.default_rng(7)
    rows = np.repeat(np.arange(500), rng.integers(1, 40, 500))
    key = rows * 60 + rng.integers(0, 60, rows.size)
    key = {"nearly sorted": key, "shuffled": rng.permutation(key), "empty": key[:0],
           "one": key[:1]}[layout]  # fmt: skip
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    for got, expected in zip(unique_runs(key), (unique, inverse, counts), strict=True):
        assert np.array_equal(got, expected)
    for got, expected in zip(unique_counts(key), (unique, counts), strict=True):
        assert np.array_equal(got, expected) and got.dtype == np.int64


@pytest.mark.parametrize("pairs", ["some", "none"])
@pytest.mark.parametrize("chunk", [4_000_000, 150, 1])
def test_common_holders_are_each_pairs_intersection(
    pairs: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`common_holders` must give, pair by pair, exactly `np.intersect1d` of the two rows'
    holders, also when the rows' holders are not stored in ascending order, and whether the
    pairs are lined up at once, in chunks, or one by one (a pair longer than a chunk)."""
    monkeypatch.setattr("backend.detection.projection.COMMON_CHUNK", chunk)
    rng = np.random.default_rng(17)
    n_rows, accounts = 60, 400
    sizes = rng.integers(0, 120, n_rows)
    holders = [rng.permutation(rng.choice(accounts, size, replace=False)) for size in sizes]
    b = sparse.csr_matrix(
        (np.ones(int(sizes.sum()), np.float32), np.concatenate(holders),
         np.r_[0, np.cumsum(sizes)]),
        shape=(n_rows, accounts),
    )  # fmt: skip
    n = 300 if pairs == "some" else 0
    a, c = rng.integers(0, n_rows, n), rng.integers(0, n_rows, n)
    members, lengths = common_holders(b, a, c)
    want = [np.intersect1d(holders[x], holders[y]) for x, y in zip(a, c, strict=True)]
    assert np.array_equal(lengths, [w.size for w in want])
    assert np.array_equal(members, np.concatenate([np.zeros(0, np.int64), *want]))
    assert holders[0].tolist() == b.indices[: sizes[0]].tolist()  # `b` itself left as it was


@pytest.mark.parametrize("spread", ["dense", "sparse", "empty", "one", "negative"])
def test_unique_dense_is_np_unique(spread: str) -> None:
    """`unique_dense` must give exactly `np.unique`'s values and inverse, whether it takes the
    bitmap (values dense in their range) or falls back to the sort."""
    rng = np.random.default_rng(11)
    values = {"dense": rng.integers(0, 3_000, 5_000), "sparse": rng.integers(0, 10**12, 5_000),
              "empty": np.zeros(0, np.int64), "one": np.array([7]),
              "negative": rng.integers(-50, 50, 300)}[spread]  # fmt: skip
    unique, inverse = unique_dense(values)
    want_unique, want_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(unique, want_unique) and np.array_equal(inverse, want_inverse)
    assert unique.dtype == np.int64 and inverse.dtype == np.int64


@pytest.mark.parametrize("ties", ["few values", "many values", "empty"])
def test_row_max_is_scipys_argmax_and_max(ties: str) -> None:
    """`row_max` must give exactly scipy's `argmax(axis=1)` and `max(axis=1)` on the rows
    that hold values, duplicates summed first, whether maxima tie within a row or not."""
    rng = np.random.default_rng(13)
    n = 0 if ties == "empty" else 3_000
    values = (rng.integers(1, 4, n) / 4) if ties == "few values" else rng.random(n) + 0.01
    matrix = sparse.csr_matrix(
        (values, (rng.integers(0, 400, n), rng.integers(0, 50, n))), shape=(500, 50)
    )  # duplicates kept: what a sparse product hands over
    has = np.diff(matrix.indptr) > 0
    want = (np.asarray(matrix[has].argmax(axis=1)).ravel(),
            np.asarray(matrix[has].max(axis=1).todense()).ravel())  # fmt: skip
    got_has, column, top = row_max(matrix.copy())
    assert np.array_equal(got_has, has)
    assert np.array_equal(column, want[0]) and np.array_equal(top, want[1])


@pytest.mark.parametrize("top", [1, 3, 5])
def test_top_floor_keeps_exactly_the_rows_a_full_sort_keeps(top: int) -> None:
    """The rows at or above `top_floor`, sorted, must give the same `top` rows per group as
    sorting every row (ties broken by row order), with repeated values and small groups."""
    rng = np.random.default_rng(17)
    group = rng.integers(0, 300, 4_000)
    value = rng.integers(1, 6, group.size) / 5

    def first_rows(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        rows = rows[np.lexsort((-value[rows], group[rows]))]
        first = np.r_[True, np.diff(group[rows]) != 0]
        start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
        return rows[np.arange(first.size) - start < top]

    every = np.arange(group.size)
    kept = every[value >= top_floor(group, value, 300, top)]
    assert kept.size < group.size
    assert np.array_equal(first_rows(kept), first_rows(every))


def test_kind_share_divides_by_the_holders_identifiers_of_each_kind() -> None:
    inc = incidence([("USED_IP", [0, 1]), ("USED_IP", [0, 2]), ("PAID_WITH", [0, 1]),
                     ("USED_IP", [1, 2])], accounts=3)  # fmt: skip
    # rows: ip0 (0, 1), ip1 (0, 2), card (0, 1), ip2 (1, 2)
    assert np.array_equal(kind_share(inc), [1 / 2, 1 / 2, 1 / 2, 1 / 2, 1, 1, 1 / 2, 1 / 2])


def test_template_bands_link_only_above_chance_collisions() -> None:
    assert chance_floor(0, 4 * 2**16) == 2 and chance_floor(1000, 4 * 2**16) == 3
    floor = chance_floor(5_300_000, 4 * 2**16)
    assert floor == 46
    # A million accounts' bands thrown at random: essentially none reaches the floor.
    holders = np.random.default_rng(0).poisson(5_300_000 / 4 / 2**16, 4 * 2**16)
    assert (holders >= floor).sum() <= 2
    assert chance_floor(10 * 5_300_000, 4 * 2**16) > floor


def _band_histogram(holders: np.ndarray, below: int) -> tuple[int, np.ndarray]:
    held = int((holders > 0).sum())
    return held, np.bincount(holders[holders < below], minlength=below)[:below]


def test_the_band_floor_is_where_chance_puts_the_bulk_of_values() -> None:
    buckets = 4 * 2**16
    rng = np.random.default_rng(1)
    chance = rng.poisson(2.0, buckets)
    # Popular templates: a few values held by thousands raise links / buckets, not the bulk.
    popular = chance.copy()
    popular[rng.choice(buckets, 100, replace=False)] += 5_000
    links = int(popular.sum())
    plain = chance_floor(links, buckets)
    floor = band_floor(links, buckets, *_band_histogram(popular, plain))
    assert floor < plain  # 13 against 17
    assert (chance >= floor).sum() <= 2  # chance still essentially never reaches it
    assert floor <= 14  # an 80-account network's template, 12-15 holders, is exported
    # Without popular values, or where every value is held (a million accounts): the plain floor.
    links = int(chance.sum())
    assert band_floor(links, buckets, *_band_histogram(chance, 99)) == chance_floor(links, buckets)
    full = rng.poisson(20.2, buckets)
    links = int(full.sum())
    assert band_floor(links, buckets, *_band_histogram(full, 99)) == chance_floor(links, buckets)
    # Nothing held, or a few links: never below 2.
    assert band_floor(0, buckets, 0, np.zeros(2, np.int64)) == 2
    assert band_floor(1000, buckets, 1000, np.bincount([1] * 1000, minlength=3)[:3]) == 3


def test_leiden_is_deterministic_and_separates_two_networks() -> None:
    groups = [
        ("PAID_WITH", list(range(10))),
        ("PAID_WITH", list(range(10, 20))),
        ("USED_IP", [0, 10]),
    ]
    m = project(incidence(groups, 21), W, 200, 32, 4, 1)
    a, b = leiden(m, 1.0, 7), leiden(m, 1.0, 7)
    assert a.tolist() == b.tolist()
    assert a[20] == -1  # no links
    assert len(set(a[:10].tolist())) == 1 and len(set(a[10:20].tolist())) == 1 and a[0] != a[10]


def test_leiden_reads_every_edge_once_in_order_a_slice_at_a_time() -> None:
    """igraph builds the graph from `_pairs`: a slice that dropped or repeated an edge at its
    boundary would change the graph without failing the small graphs above (one slice)."""
    rows, cols = np.arange(10, dtype=np.int64), np.arange(10, 20, dtype=np.int64)
    for step in (1, 3, 4, 10, 64):
        assert list(_pairs(rows, cols, step)) == list(zip(range(10), range(10, 20), strict=True))
    assert list(_pairs(rows[:0], cols[:0])) == []


def _hubbed_cliques(k: int = 6, bridge: float = 3.0, hub: float = 40.0) -> sparse.csr_matrix:
    """Two cliques A and B of k accounts (weight 1 a pair), k bridges between them (`bridge` in
    all), and each of B's accounts tied at `hub` to an account of its own (after the 2k)."""
    rows, cols, w = [], [], []
    for base in (0, k):
        for i in range(k):
            for j in range(i + 1, k):
                rows, cols, w = [*rows, base + i], [*cols, base + j], [*w, 1.0]
    for b in range(k):
        rows, cols, w = [*rows, b, k + b], [*cols, k + b, 2 * k + b], [*w, bridge / k, hub]
    m = sparse.coo_matrix((w, (rows, cols)), shape=(3 * k, 3 * k)).tocsr()
    return (m + m.T).tocsr()


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(
        (np.unique(a, return_inverse=True)[1] == np.unique(b, return_inverse=True)[1]).all()
    )


def test_a_regions_leiden_partitions_it_as_the_whole_graph_does() -> None:
    """A region of A and B without B's partners: by its row sums (its own edges only) B's
    accounts weigh a tenth of what they weigh in the whole graph, modularity expects next to
    nothing between A and B, and the bridges merge them. By the whole graph's strengths, with
    the resolution per unit of their sum, the region is cut as the whole graph cuts it: A
    whole, each of B's accounts apart from A (with its partner, outside the region). The same
    with some accounts moving as a group. Given the row sums themselves, Leiden is as before."""
    whole = _hubbed_cliques()
    region = whole[:12][:, :12].tocsr()
    total = float(whole.sum())
    strengths = np.asarray(whole.sum(axis=1), np.float64).ravel()[:12]
    expected = leiden(whole, 1.0, 7)[:12]
    by_rows = leiden(region, region.sum() / total, 7)
    assert not _same_partition(by_rows, expected)
    assert _same_partition(
        leiden(region, strengths.sum() / total, 7, strengths=strengths), expected
    )
    groups = np.array([0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1])
    grouped = leiden(region, strengths.sum() / total, 7, groups=groups, strengths=strengths)
    assert _same_partition(grouped, expected)
    planted, _ = _planted(1)
    sums = np.asarray(planted.sum(axis=1), np.float64).ravel()
    assert leiden(planted, 1.0, 7, strengths=sums).tolist() == leiden(planted, 1.0, 7).tolist()


def _planted(seed: int, n: int = 3000, k: int = 30) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A weighted graph of k planted communities (85% of edges inside)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    i = rng.integers(0, n, 60_000)
    inside = rng.random(i.size) < 0.85
    j = np.where(inside, 0, rng.integers(0, n, i.size))
    for c in range(k):  # a random member of the same community
        at = np.flatnonzero(inside & (truth[i] == c))
        j[at] = rng.choice(np.flatnonzero(truth == c), at.size)
    ok = i != j
    w = rng.random(int(ok.sum()))
    m = sparse.csr_matrix((np.r_[w, w], (np.r_[i[ok], j[ok]], np.r_[j[ok], i[ok]])), (n, n))
    m.sum_duplicates()
    return m, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouped_leiden_keeps_the_whole_graphs_partition(seed: int) -> None:
    """Moving groups as one vertex (self-loop = their internal weight, strength = theirs) keeps
    the objective: with most accounts grouped by the whole graph's communities and the rest
    free, Leiden puts the free ones back where the whole graph does."""
    m, _ = _planted(seed)
    whole = leiden(m, 1.0, 7, iterations=-1)
    rng = np.random.default_rng(seed)
    groups = np.where(rng.random(whole.size) < 0.8, whole, -1)
    start = np.where(groups >= 0, whole, -1)  # the free ones start nowhere
    grouped = leiden(m, 1.0, 7, initial=start, iterations=-1, groups=groups)
    assert ig.compare_communities(whole.tolist(), grouped.tolist(), method="adjusted_rand") == 1.0
    assert all(len(set(grouped[groups == g].tolist())) == 1 for g in np.unique(groups[groups >= 0]))
    # Every account grouped by its community: a local optimum of the whole graph stays one
    # (a group's strength must count its internal weight twice, or groups merge: 30 -> 1).
    for resolution in (0.35, 1.0):
        whole = leiden(m, resolution, 7, iterations=-1)
        kept = leiden(m, resolution, 7, initial=whole, iterations=-1, groups=whole)
        assert kept.tolist() == whole.tolist()


def _table(n: int, **columns: list[float]) -> dict[str, np.ndarray]:
    table = {c: np.zeros(n) for c in ACCOUNT_COLUMNS}
    for name, values in columns.items():
        table[name] = np.asarray(values, np.float64)
    return table


def test_features_risk_and_explanation() -> None:
    # Community 0: four accounts on prepaid cards behind proxies, one template, fast adopters,
    # signed up within minutes. Community 1: a company team, corporate card, office NAT.
    n = 8
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    inc = incidence(
        [("PAID_WITH", [0, 1, 2, 3]), ("USED_TEMPLATE", [0, 1, 2, 3]), ("PAID_WITH", [4, 5, 6, 7]),
         ("USED_IP", [4, 5, 6, 7])], n,
    )  # fmt: skip
    m = project(inc, W, 200, 32, 4, 1)
    table = _table(
        n,
        cards=[1] * 8, risky_cards=[1, 1, 1, 1, 0, 0, 0, 0], mismatched_cards=[1, 1, 0, 0, 0, 0, 0, 0],
        ips=[2] * 8, anon_ips=[2, 2, 2, 2, 0, 0, 0, 0], fast_adopter=[1, 1, 1, 0, 0, 0, 0, 0],
        exchanges=[100] * 4 + [5] * 4, cot=[10] * 4 + [0] * 4, cap_coding=[100] * 4 + [5] * 4,
        signup_s=[0, 60, 120, 180, 0, 30, 90, 5000],
    )  # fmt: skip
    shapes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = score(table, labels, inc, m, shapes)
    f = {name: s.features[:, i] for i, name in enumerate(s.feature_names)}
    assert f["prepaid_virtual_share"].tolist() == [1.0, 0.0]
    assert f["card_country_mismatch"].tolist() == [0.5, 0.0]
    assert f["anonymised_ip_share"].tolist() == [1.0, 0.0]
    assert f["fast_adoption_share"].tolist() == [0.75, 0.0]
    assert f["template_concentration"].tolist() == [1.0, 0.0]
    assert f["signup_burstiness"].tolist() == [1.0, 0.75]
    assert f["cot_rate"].tolist() == [0.1, 0.0]
    assert f["size"].tolist() == [4, 4] and f["density"].tolist() == [1.0, 1.0]
    assert s.risk[0] > 0.9 > 0.1 > s.risk[1]
    # Contributions are the explanation: they add up to the logit.
    logit = np.log(s.risk / (1 - s.risk))
    assert s.contributions.sum(axis=1) - 5.0 == pytest.approx(logit)
    proof = evidence(inc, labels, W)
    assert proof[0][0][:1] == ("PAID_WITH",) and proof[0][0][2:] == (4, 4)


def test_acting_together_alone_does_not_make_a_cluster_risky() -> None:
    # Two clusters that act together in every way the features see: one template, signed up
    # within the hour, one mail shape, every exchange at ten in the morning. Cluster 0 is a
    # course (nothing else); cluster 1 the same on prepaid cards.
    n = 8
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    inc = incidence([("USED_TEMPLATE", [0, 1, 2, 3]), ("USED_TEMPLATE", [4, 5, 6, 7])], n)
    table = _table(
        n, exchanges=[100] * 8, cap_coding=[100] * 8, h10=[100] * 8, cards=[1] * 8,
        risky_cards=[0, 0, 0, 0, 1, 1, 1, 1], signup_s=[0, 60, 120, 180] * 2,
    )  # fmt: skip
    s = score(table, labels, inc, project(inc, W, 200, 32, 4, 1), np.zeros(n, np.int64))
    f = {name: s.features[:, i] for i, name in enumerate(s.feature_names)}
    together = [s.feature_names.index(name) for name in COORDINATION]
    for name in COORDINATION:  # every coordination feature at or past its saturation
        assert (f[name] >= RISK_WEIGHTS[name][1]).all()
    full = sum(RISK_WEIGHTS[name][0] for name in COORDINATION)
    assert full > -BIAS  # uncapped, acting together alone would pass the threshold
    assert s.contributions[:, together].sum(axis=1) == pytest.approx([COORDINATION_CAP] * 2)
    assert s.risk[0] < 0.5 < s.risk[1]
    logit = np.log(s.risk / (1 - s.risk))
    assert s.contributions.sum(axis=1) + BIAS == pytest.approx(logit)


def test_confidence_separates_network_members_from_exit_sharers() -> None:
    # Accounts 0-4 share a card and a template; 5 and 6 only share the proxy exit with them.
    inc = incidence(
        [("PAID_WITH", [0, 1, 2, 3, 4]), ("USED_TEMPLATE", [0, 1, 2, 3, 4]),
         ("USED_IP", [0, 1, 2, 3, 4, 5, 6])], 7,
    )  # fmt: skip
    labels = np.zeros(7, np.int64)
    conf = confidence(tie_strength(inc, labels, W), np.ones(7))
    assert conf[:5].min() > 0.5 > conf[5:].max()


def _bands(per_position: list[list[list[int]]], others: list[tuple[str, list[int]]],
           accounts: int) -> Incidence:  # fmt: skip
    """Template bands by position (their holders), then other identifiers."""
    groups = [("USED_TEMPLATE", h) for bands in per_position for h in bands] + others
    keys = [f"{p}:{i:04x}" for p, bands in enumerate(per_position) for i in range(len(bands))]
    return incidence(groups, accounts, keys=keys + [f"x-{i}" for i in range(len(others))])


def test_template_matches_count_no_more_than_at_the_weakest_band_position() -> None:
    """Members 0-9 share the network's prompts: three bands match at positions 0, 1 and 3,
    and at position 2 the network's main value and, for 0-7, one of its bit-flipped variants
    that a pair of them holds. Account 10's own template lies a bit from the network's at
    position 2 only: its one-bit variants match five of those values there and nothing
    elsewhere (a hash collision). Account 11 shares the network's card, not its prompts."""
    net = list(range(10))
    variants = [[0, 1, 10], [2, 3, 10], [4, 5, 10], [6, 7, 10]]
    positions = [[net] * 3, [net] * 3, [[*net, 10], *variants], [net] * 3]
    inc = _bands(positions, [("PAID_WITH", [*net, 11])], 12)
    tie = tie_strength(inc, np.zeros(12, np.int64), W)
    # Every band here is held inside the community only, so each match weighs one.
    assert tie[0] == pytest.approx(1.0 + 11 * 0.35)  # [3, 3, 2, 3]: within SLACK of its weakest
    assert tie[8] == pytest.approx(1.0 + 10 * 0.35 * (2 + 2 + 1 + 2) / 10)  # [3, 3, 1, 3]
    assert tie[10] == pytest.approx(5 * 0.35 / 5)  # [0, 0, 5, 0]: one band's worth
    assert tie[11] == pytest.approx(1.0)  # the card; no template to count
    # Measured from outside (whom `attach` would let join): the same rule, each match weighed
    # by the share of the band's other holders in the community (account 9 at position 2:
    # 9 of the band's 10 others, since account 10 is outside too).
    outsiders = np.zeros(12, np.int64)
    outsiders[[9, 10]] = -1
    best, tie = best_ties(inc, outsiders, W, outsiders < 0)
    assert best[[9, 10]].tolist() == [0, 0]
    nine = [3, 3, 0.9, 3]
    counted = sum(min(m, min(nine) + 1) for m in nine) / sum(nine)
    assert tie[9] == pytest.approx(1.0 + (9 * 0.35 + 0.35 * 0.9) * counted)
    assert tie[10] == pytest.approx((0.35 * 0.9 + 4 * 0.35) / 4.9)
    # Members that match equally at every position keep every match.
    even = _bands([[net] * 3] * 4, [], 10)
    assert tie_strength(even, np.zeros(10, np.int64), W) == pytest.approx(12 * 0.35)


def test_a_band_held_mostly_outside_does_not_make_its_position_matched() -> None:
    """Account 0 collided at position 3 with five of a network's bands; at positions 0-2 it
    holds bands of 40 holders, two of them (it and one genuine member of the cluster's
    periphery) inside. Those count for what they are, 1/39 of a match each."""
    net = list(range(1, 11))
    wide = [0, 11, *range(12, 50)]  # 40 holders, 0 and 11 in the cluster
    positions = [[net] * 3 + [wide], [net] * 3 + [wide], [net] * 3 + [wide], [[0, *net]] * 5]
    inc = _bands(positions, [], 50)
    labels = np.full(50, -1, np.int64)
    labels[:12] = 0
    per_position = [1 / 39, 1 / 39, 1 / 39, 5 * 10 / 10]
    counted = sum(min(m, min(per_position) + 1) for m in per_position)
    tie = tie_strength(inc, labels, W)
    assert tie[0] == pytest.approx(0.35 * counted)
    assert tie[0] < 0.35 * 1.2  # about one band's worth (counting bands, not shares: 1.11)


def test_matches_chance_explains_are_taken_off_each_position_first() -> None:
    """A network of 100 accounts holds 2,000 band values at each position (each value two of
    its members'), 3% of the 2^16. Account 100 has sent 100 prompts of its own: chance puts
    ~3 of its bands on the network's values at every position, and it matches 3 at each,
    consistently. That is what chance gives, so it counts nothing; a member's 40 a position
    keep nearly all. Without the prompt counts nothing is subtracted."""
    from dataclasses import replace

    values = 2_000
    per_position = [[[i % 100, (i + 1) % 100] for i in range(values)] for _ in range(4)]
    for bands in per_position:
        for v in (5, 500, 1_500):  # account 100's three matches at this position
            bands[v] = [*bands[v], 100]
    inc = _bands(per_position, [], 101)
    labels = np.zeros(101, np.int64)
    unknown = tie_strength(inc, labels, W)
    known = tie_strength(replace(inc, prompts=np.full(101, 100.0)), labels, W)
    assert unknown[100] == pytest.approx(12 * 0.35)
    assert known[100] == pytest.approx(0.0)
    chance = 100 * values / 2**16  # per position: 3.05 of a member's 40 matches
    assert known[0] == pytest.approx(unknown[0] * (40 - chance) / 40, rel=0.02)


def test_template_positions_count_bands_mostly_held_inside_the_community() -> None:
    """Accounts 0-5 are a network (community 0) whose template values are theirs alone; 6-13
    are genuine (community 1, and outside any), and all fourteen hold one public template band.
    Account 0 matches its network at all four positions, 1 at two (its other bands were too
    rare to be exported), 2 at one, 5 at three; account 6's prompt hashed into a network value
    at one position (a collision)."""
    net = [0, 1, 2, 3, 4, 5]
    per_position = [
        [[0, 1, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]],  # a public band
        [[0, 1, 2, 3, 4, 5]],
        [[0, 3, 4, 5]],
        [[0, 3, 4]],
    ]
    inc = _bands(per_position, [("PAID_WITH", [6, 7])], 14)
    labels = np.array([0] * 6 + [1, 1] + [-1] * 6, np.int64)
    tie, positions = tie_and_template_positions(inc, labels, W)
    assert tie.tolist() == pytest.approx(tie_strength(inc, labels, W).tolist())
    # Position 0's first value: 4 of a member's 5 other holders inside, so it counts; the
    # public band (8 of a member's 13 other holders outside its community) counts for nobody.
    assert positions[net].tolist() == [4, 2, 1, 4, 4, 3]
    assert positions[6:].tolist() == [0] * 8  # account 6: 1 of 5 others in its community


def test_members_on_their_networks_own_templates_keep_thin_behaviour_off_the_gate() -> None:
    """Thin behaviour is not held against a member whose prompts are its network's own
    templates (two positions or more); a member matching at one position (a collision) and
    accounts in no cluster keep theirs."""
    from backend.detection.pipeline import TEMPLATE_POSITIONS, own_templates

    labels = np.array([0, 0, 0, -1], np.int64)
    positions = np.array([4, TEMPLATE_POSITIONS, TEMPLATE_POSITIONS - 1, 4])
    assert own_templates(labels, positions).tolist() == [True, True, False, False]


def test_ties_alone_never_reach_the_default_ban_confidence() -> None:
    """However tightly tied, an account that behaves nothing like its cluster stays below
    DETECTION_MIN_CONFIDENCE: shared identifiers alone never put it on the ban list."""
    from backend.core.config import Settings

    threshold = Settings(_env_file=None).DETECTION_MIN_CONFIDENCE
    ties = np.array([0.5, 3.0, 50.0])
    assert confidence(ties, np.zeros(3)).max() <= 0.6 < threshold
    assert confidence(np.array([50.0]), np.array([0.5]))[0] >= threshold


def test_behaviour_shrunk_toward_unknown_by_how_few_exchanges_it_rests_on() -> None:
    table = {c: np.zeros(4) for c in ACCOUNT_COLUMNS}
    table["cap_reasoning"][:] = [40, 0, 0, 0]
    table["cap_coding"][:] = [5, 1, 60, 0]
    labels = np.array([0, -1, -1, -1])  # the mean is the first account's mix
    towards = np.zeros(4, np.int64)
    cosine = 5 / np.hypot(40, 5)
    plain = behaviour_similarity(table, labels, towards)
    assert plain[1:].tolist() == pytest.approx([cosine, cosine, 0.75])
    shrunk = thin_shrunk(plain, table)
    assert shrunk[1:].tolist() == pytest.approx(
        [(cosine + 4.5) / 7, (60 * cosine + 4.5) / 66, 0.75]  # one exchange, sixty, none
    )
    assert shrunk[0] == pytest.approx((45 + 4.5) / 51)  # its own mix: toward unknown too


def test_stable_ids_growth_merge_split_dissolve_and_regrowth() -> None:
    old = {"A": {"a1", "a2", "a3", "a4"}, "B": {"b1", "b2", "b3"}, "C": {"c1", "c2", "c3", "c4", "c5"},
           "D": {"d1", "d2"}}  # fmt: skip
    new = [
        {"a1", "a2", "a3", "a4", "a5"},  # A grew
        {"b1", "b2", "b3", "x1", "d1", "d2"},  # B absorbed D
        {"c1", "c2", "c3"},  # C shrank ...
        {"c4", "c5", "y1"},  # ... and split
        {"n1", "n2", "n3"},  # brand new
    ]
    got = assign(old, new)
    assert got.ids[:3] == ["A", "B", "C"]
    assert got.ids[3] not in old and got.ids[4] not in old
    kinds = {(e.type, e.cluster_id) for e in got.events}
    assert {("grown", "A"), ("grown", "B"), ("merged", "B"), ("shrunk", "C"), ("split", got.ids[3]),
            ("created", got.ids[4])} <= kinds  # fmt: skip
    assert got.merged_into == {"D": "B"} and got.parents[got.ids[3]] == ["C"]
    # Nothing of E survives: dissolved.
    gone = assign({"E": {"e1", "e2"}}, [{"z1", "z2"}])
    assert ("dissolved", "E") in {(e.type, e.cluster_id) for e in gone.events}
    # A dissolved, banned network reappears under new accounts on its old cards: same ID.
    regrown = assign({}, [{"r1", "r2", "r3"}], {"BAN": {"card:1", "card:2", "dev:9"}},
                     [{"card:1", "card:2", "dev:9", "ip:4"}])  # fmt: skip
    assert regrown.ids == ["BAN"]
    # Deterministic new IDs.
    assert assign({}, [{"q1", "q2"}]).ids == assign({}, [{"q2", "q1"}]).ids
    # A small network leaves the big cluster it shared: 10% of it, but all of the newcomer's
    # members come from it, so it is split from it (lineage, and with it the network id).
    big = {f"m{i}" for i in range(90)} | {f"p{i}" for i in range(10)}
    left = assign({"BIG": big}, [{f"m{i}" for i in range(90)}, {f"p{i}" for i in range(10)}])
    assert left.ids[0] == "BIG" and left.parents[left.ids[1]] == ["BIG"]
    assert ("split", left.ids[1]) in {(e.type, e.cluster_id) for e in left.events}
    # A brand-new group with a few old members is still created, not split.
    few = assign({"BIG": big}, [big - {"m0", "m1"}, {"m0", "m1", "n1", "n2", "n3"}])
    assert ("created", few.ids[1]) in {(e.type, e.cluster_id) for e in few.events}


def test_only_changed_memberships_are_written_or_ended() -> None:
    old_node = np.array([10, 11, 12, 13])
    old_cluster = np.array(["a", "a", "b", "b"], dtype=object)
    old_conf = np.array([0.9, 0.8, 0.7, 0.6])
    # 10 unchanged but for a drift under the tolerance; 11 new confidence; 12 moved to c;
    # 13 left every cluster; 14 joined b.
    new_node = np.array([14, 12, 11, 10])
    new_cluster = np.array(["b", "c", "a", "a"], dtype=object)
    new_conf = np.array([0.5, 0.7, 0.85, 0.905])
    write, end = membership_changes(
        old_node, old_cluster, old_conf, new_node, new_cluster, new_conf
    )
    assert new_node[write].tolist() == [14, 12, 11]
    assert old_node[end].tolist() == [11, 12, 13]
    # A first refresh writes everything; a refresh that finds no cluster ends everything.
    none = np.zeros(0, np.int64)
    w, e = membership_changes(
        none, none.astype(object), none * 1.0, new_node, new_cluster, new_conf
    )
    assert w.all() and e.size == 0
    w, e = membership_changes(
        old_node, old_cluster, old_conf, none, none.astype(object), none * 1.0
    )
    assert w.size == 0 and e.all()


def test_write_lanes_never_share_a_cluster_and_keep_every_row() -> None:
    rows = Memberships(
        np.arange(10), np.array(list("aabbccddee"), dtype=object), np.linspace(0, 1, 10)
    )
    lanes = rows.lanes(2)
    assert sorted(n for lane in lanes for n in lane.nodes.tolist()) == list(range(10))
    clusters = [set(lane.clusters.tolist()) for lane in lanes]
    assert len(lanes) == 2 and not clusters[0] & clusters[1]
    conf = {n: c for lane in lanes for n, c in zip(lane.nodes, lane.confidences, strict=True)}
    assert conf == dict(zip(rows.nodes, rows.confidences, strict=True))
    assert Memberships(np.zeros(0, np.int64), np.zeros(0, object)).lanes(2) == []


def test_a_new_community_never_takes_an_existing_clusters_id() -> None:
    # Cluster X was created with members {1, 2, 3} (so its id is new_id of that set) and has
    # since grown. A new community that is exactly {1, 2, 3} again gets a different id.
    x = new_id({1, 2, 3})
    result = assign({x: {1, 2, 3, 4, 5, 6}}, [{4, 5, 6}, {1, 2, 3}])
    assert result.ids[0] == x
    assert result.ids[1] != x and len(set(result.ids)) == 2
    # A dissolved cluster's id is reserved too.
    result = assign({}, [{1, 2, 3}], old_evidence={x: {"card:z"}}, new_evidence=[set()])
    assert result.ids[0] != x


def test_coincidences_of_common_identifiers_link_and_chance_ones_do_not() -> None:
    """A template and a client build each held by hundreds are common; most of their holders
    holding both, where chance predicts a handful, is one operator's accounts."""
    from backend.detection.projection import conjunctions

    rng = np.random.default_rng(3)
    network = list(range(300))
    public = sorted(rng.choice(np.arange(300, 10_000), 1_000, replace=False).tolist())
    common = sorted(rng.choice(np.arange(300, 10_000), 1_000, replace=False).tolist())
    exit_ = list(range(300, 600))  # an IP and its /24: nested, never a coincidence
    groups = [
        ("USED_TEMPLATE", network), ("USED_CLIENT", [*network, *range(9_000, 9_100)]),
        ("USED_TEMPLATE", public), ("USED_CLIENT", common),
        ("USED_IP", exit_), ("USED_SUBNET", [*exit_, *range(600, 700)]),
    ]  # fmt: skip
    keys = ["2:ab12", "client-a", "0:ab12", "client-b", "10.0.0.1", "10.0.0.0/24"]
    inc = incidence(groups, 10_000, population=10_000, keys=keys)
    weights = {"USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3, "USED_IP": 0.3, "USED_SUBNET": 0.1}
    linked, extended = conjunctions(inc, weights, link_cap=200)
    added = list(range(inc.degree.size, linked.degree.size))
    assert len(added) == 1
    (j,) = added
    assert linked.kinds[linked.kind[j]] == "USED_CLIENT&USED_TEMPLATE"
    # It is a match at its band's position (`scoring.band_consistency`).
    assert linked.band_position.tolist() == [2, -1, 0, -1, -1, -1, 2]
    assert extended["USED_CLIENT&USED_TEMPLATE"] == 0.35  # the stronger kind's weight
    assert sorted(linked.holders[linked.ptr[j] : linked.ptr[j + 1]].tolist()) == network
    m = project(linked, extended, 200, 32, 6, 1)
    assert m[network].nnz > 0 and m[9_000].nnz == 0  # above the cap, only the pair links
    assert project(inc, weights, 200, 32, 6, 1).nnz == 0


def test_a_template_split_over_an_operators_builds_links_and_a_public_one_does_not() -> None:
    """Fresh draws 114 and 118: a network's three templates on two builds of its own, each
    holding two fifths of a template's holders (under half, so no pair described it), and a
    fifth on popular builds. Together its builds describe each template's population; a public
    template's users on popular builds are chance."""
    from backend.detection.projection import conjunctions

    rng = np.random.default_rng(5)
    templates = [list(range(t * 400, t * 400 + 400)) for t in range(3)]
    own = [[a for t in templates for a in t[k * 160 : k * 160 + 160]] for k in range(2)]
    on_public = [a for t in templates for a in t[320:]]
    others = np.arange(1_200, 20_000)
    public = sorted(rng.choice(others, 1_500, replace=False).tolist())
    popular = [sorted({*rng.choice(others, 1_200, replace=False).tolist(), *on_public[k::3]})
               for k in range(3)]  # fmt: skip

    def linked_pairs(builds: list[list[int]]) -> dict[str, list[int]]:
        groups = [*(("USED_TEMPLATE", t) for t in templates), ("USED_TEMPLATE", public),
                  *(("USED_CLIENT", b) for b in builds)]  # fmt: skip
        keys = ["1:aaaa", "1:bbbb", "1:cccc", "1:dddd", *(f"cf-{i}" for i in range(len(builds)))]
        inc = incidence(groups, 20_000, population=20_000, keys=keys)
        linked, _ = conjunctions(inc, {"USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3}, link_cap=200)
        return {linked.keys[j]: sorted(linked.holders[linked.ptr[j] : linked.ptr[j + 1]].tolist())
                for j in range(inc.degree.size, linked.degree.size)}  # fmt: skip

    added = linked_pairs([*own, *popular])
    want = {f"{t}&cf-{k}": sorted(set(templates[i]) & set(own[k]))
            for i, t in enumerate(["1:aaaa", "1:bbbb", "1:cccc"]) for k in range(2)}  # fmt: skip
    assert added == want and all(len(m) == 160 for m in want.values())
    # One build of its own alone (the rest on popular builds) holds two fifths: not described.
    assert linked_pairs([own[0], *popular]) == {}
    # Nor by two builds that hold the same two fifths: a holder counts once.
    assert linked_pairs([own[0], list(own[0]), *popular]) == {}


def test_an_sdks_default_prompt_over_its_releases_does_not_link_its_users() -> None:
    """Fresh draws 132 and 133: genuine users who keep their SDK's default prompt send it from
    each of the SDK's releases, so the releases together hold all of the template's holders,
    as an operator's builds hold its templates'. But a release runs everyone's client: three
    in ten of its users send the default, where an operator's build runs its accounts only."""
    from backend.detection.projection import conjunctions, restrict

    rng = np.random.default_rng(7)
    users = rng.permutation(np.arange(2_000, 20_000))
    releases = [sorted(users[k * 1_500 : (k + 1) * 1_500].tolist()) for k in range(4)]
    default = sorted(a for r in releases for a in r[:450])  # 30% of each release's users
    operator = [list(range(k * 500, k * 500 + 500)) for k in range(3)]  # three builds of its own
    # Three templates, each on a third of every build: no pair holds half of either end.
    templates = [[a for o in operator for a in o[t * 166 : t * 166 + 166]] for t in range(3)]

    def added(groups: list[tuple[str, list[int]]], region: list[int] | None = None) -> set[str]:
        keys = [f"{i}:{kind}" for i, (kind, _) in enumerate(groups)]
        inc = incidence(groups, 20_000, population=20_000, keys=keys)
        if region is not None:  # an incremental refresh's: its holders only, whole degrees
            inc = restrict(inc, np.isin(np.arange(20_000), region))[0]
        linked, _ = conjunctions(inc, {"USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3}, link_cap=200)
        return set(linked.keys[inc.degree.size :])

    sdk = [("USED_TEMPLATE", default), *(("USED_CLIENT", r) for r in releases)]
    assert added(sdk) == set()
    # Nor in a region the senders fill (a cluster of them the change reached): a release is
    # judged on all its holders, not on those the region holds.
    assert added(sdk, region=[*default, *releases[0][450:500]]) == set()
    # The same shape on an operator's builds links: each build's holders hold its templates,
    # in the whole graph and in a region that holds them.
    groups = [*(("USED_TEMPLATE", t) for t in templates), *(("USED_CLIENT", o) for o in operator)]
    assert len(added(groups)) == 9
    assert len(added(groups, region=[a for o in operator for a in o])) == 9


def test_two_templates_one_population_sends_link_and_one_templates_bands_do_not() -> None:
    """Fresh draw 176: a behaviour-only network on popular builds, each account sending two of
    six templates, had no other coincidence. Two bands at one position are two prompts, so
    most holders of one holding the other, above chance, is one population's two templates;
    one prompt's bands at two positions are held together by everyone who sends it, and one
    prompt's edited variants at one position by most who send it."""
    from backend.detection.projection import conjunctions

    rng = np.random.default_rng(11)
    network = list(range(400))
    others = np.arange(400, 20_000)
    public = [sorted(rng.choice(others, 1_500, replace=False).tolist()) for _ in range(2)]
    half = sorted({*network[:180], *rng.choice(others, 300, replace=False).tolist()})
    groups = [("USED_TEMPLATE", network), ("USED_TEMPLATE", network),  # two prompts, position 1
              ("USED_TEMPLATE", network),  # the first one's band at position 3
              *(("USED_TEMPLATE", p) for p in public),  # public templates at position 1
              ("USED_TEMPLATE", half),
              ("USED_TEMPLATE", network[:250])]  # the first one edited: a bit flipped  # fmt: skip
    keys = ["1:aaaa", "1:bbbb", "3:cccc", "1:dddd", "1:eeee", "1:ffff", "1:aaab"]
    inc = incidence(groups, 20_000, population=20_000, keys=keys)
    linked, extended = conjunctions(inc, {"USED_TEMPLATE": 0.35}, link_cap=200)
    added = {linked.keys[j]: sorted(linked.holders[linked.ptr[j] : linked.ptr[j + 1]].tolist())
             for j in range(inc.degree.size, linked.degree.size)}  # fmt: skip
    # Not 3:cccc (the same prompt), not the public pair, not half, not the edited variant.
    assert added == {"1:aaaa&1:bbbb": network}
    j = inc.degree.size
    assert linked.kinds[linked.kind[j]] == "USED_TEMPLATE&USED_TEMPLATE"
    assert linked.band_position[j] == 1 and extended["USED_TEMPLATE&USED_TEMPLATE"] == 0.35
    m = project(linked, extended, 200, 32, 6, 1)
    assert m[network].nnz > 0 and m[public[0]].nnz == 0


def test_an_agent_sdks_two_default_prompts_do_not_link_its_users() -> None:
    """Fresh draws 181-183: an agent SDK's users who keep its defaults send its planning and
    tool prompts, both, from its releases, where they are three in ten of the users. A
    network's two templates on popular builds are on each in proportion to its use, and on
    its own build, which runs its accounts only."""
    from backend.detection.projection import conjunctions

    rng = np.random.default_rng(17)
    users = rng.permutation(np.arange(3_000, 60_000))
    releases = [sorted(users[k * 2_000 : (k + 1) * 2_000].tolist()) for k in range(4)]
    keepers = sorted(a for r in releases for a in r[:600])
    network = list(range(1_000))  # four fifths on twenty popular builds, as their users are
    popular = [sorted({*users[8_000 + k * 1_800 : 8_000 + (k + 1) * 1_800].tolist(),
                       *network[k * 40 : (k + 1) * 40]}) for k in range(20)]  # fmt: skip
    own = network[800:]

    def added(groups: list[tuple[str, list[int]]]) -> set[str]:
        keys = ["1:aaaa", "1:5555", *(f"cf-{i}" for i in range(len(groups) - 2))]
        inc = incidence(groups, 60_000, population=60_000, keys=keys)
        linked, _ = conjunctions(inc, {"USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3}, link_cap=200)
        return {k for k in linked.keys[inc.degree.size :] if k.count(":") == 2}

    sdk = [("USED_TEMPLATE", keepers), ("USED_TEMPLATE", keepers),
           *(("USED_CLIENT", r) for r in releases)]  # fmt: skip
    assert added(sdk) == set()
    operation = [("USED_TEMPLATE", network), ("USED_TEMPLATE", network),
                 *(("USED_CLIENT", b) for b in [*popular, own])]  # fmt: skip
    assert added(operation) == {"1:aaaa&1:5555"}
    # All of it on its own build: the templates' pairs with the build describe it already,
    # and the pair of templates is not added (draw 187).
    alone = [("USED_TEMPLATE", network), ("USED_TEMPLATE", network), ("USED_CLIENT", network)]
    assert added(alone) == set()


def test_edits_of_an_sdks_default_do_not_link_and_a_networks_do() -> None:
    """Fresh draws 181-183: heavy users of an SDK's default prompt each held a few of its
    edits (a bit or two flipped), each edit held by tens of them, under the cap: they linked
    tens of thousands of genuine accounts. The SDK's releases explain that prompt (three in
    ten of each release's users send it). A network's template on its own build is not
    explained so, and its edits link its heavy members (draws 184 and 187)."""
    from backend.detection.projection import conjunctions, prompt_of

    rng = np.random.default_rng(13)
    users = rng.permutation(np.arange(1_000, 40_000))
    releases = [sorted(users[k * 2_000 : (k + 1) * 2_000].tolist()) for k in range(4)]
    default = sorted(a for r in releases for a in r[:600])
    edits = [default[k * 40 : (k + 1) * 40] for k in range(3)]  # heavy users, apart
    network = list(range(300))
    groups = [("USED_TEMPLATE", default), *(("USED_TEMPLATE", e) for e in edits),
              ("USED_TEMPLATE", network), ("USED_TEMPLATE", network[:30]),
              ("USED_TEMPLATE", edits[0]), ("USED_CLIENT", network),
              *(("USED_CLIENT", r) for r in releases),
              ("USED_TEMPLATE", network[30:60])]  # fmt: skip
    # 2:8001 is one bit off 2:8000, 2:8007 three, 2:800f four (a prompt of its own); 2:1235 is
    # an edit of the network's 2:1234; 3:8001 is at another position.
    # 2:8003, two bits off the default, is the network's (held by its senders, not the
    # default's): near by chance.
    keys = ["2:8000", "2:8001", "2:8007", "2:800f", "2:1234", "2:1235", "3:8001", "cf-op",
            *(f"cf-{k}" for k in range(4)), "2:8003"]  # fmt: skip
    inc = incidence(groups, 40_000, population=40_000, keys=keys)
    assert prompt_of(inc, 200).tolist() == [-1, 0, 0, -1, -1, 4, -1, -1, -1, -1, -1, -1, 0]
    # Two as common, a bit apart: the second is taken for an edit of the first.
    two = incidence([("USED_TEMPLATE", list(range(300))), ("USED_TEMPLATE", list(range(300, 600)))],
                    600, population=600, keys=["0:0000", "0:0001"])  # fmt: skip
    assert prompt_of(two, 200).tolist() == [-1, 0]
    weights = {"USED_TEMPLATE": 0.35, "USED_CLIENT": 0.3}
    linked, extended = conjunctions(inc, weights, link_cap=200)
    assert linked.variants is not None and np.flatnonzero(linked.variants).tolist() == [1, 2]
    m = project(linked, extended, 200, 32, 6, 1)
    assert m[edits[1]][:, edits[1]].nnz == 0  # the default's edits link no one
    assert m[edits[2]][:, edits[2]].nnz > 0  # a prompt of its own (four bits off) does
    small = network[:30]
    assert m[small][:, small].nnz > 0  # the network links (its pair with its build, its edit)


def test_a_cluster_the_peel_left_disconnected_is_split() -> None:
    from scipy import sparse

    from backend.detection.pipeline import connected

    edges = [(0, 1), (1, 2), (3, 4)]  # 0-1-2 and 3-4 share a label, no edge between them
    rows, cols = zip(*edges, strict=True)
    m = sparse.coo_matrix((np.ones(3), (rows, cols)), shape=(6, 6)).tocsr()
    m = (m + m.T).tocsr()
    out = connected(m, np.array([0, 0, 0, 0, 0, -1]))
    assert out[0] == out[1] == out[2] and out[3] == out[4] and out[0] != out[3] and out[5] == -1
    # An edge between two clusters does not join them, and the projection is left as it was.
    m = (m + sparse.coo_matrix(([1.0, 1.0], ([2, 3], [3, 2])), shape=(6, 6))).tocsr()
    before = (m.data.copy(), m.indices.copy(), m.indptr.copy())
    out = connected(m, np.array([0, 0, 0, 1, 1, -1]))
    assert out[0] == out[2] and out[3] == out[4] and out[0] != out[3]
    assert all(np.array_equal(a, b) for a, b in zip(before, (m.data, m.indices, m.indptr)))


@pytest.mark.parametrize("seed", range(5))
def test_components_are_numbered_as_the_undirected_search_numbers_them(seed: int) -> None:
    """`connected` finds components with scipy's strong search (the graph is symmetric); its
    numbering must be the undirected search's, which the labels downstream depend on."""
    from scipy.sparse import csgraph

    from backend.detection.pipeline import connected

    rng = np.random.default_rng(seed)
    n = 3000
    rows, cols = rng.integers(0, n, 5000), rng.integers(0, n, 5000)
    m = sparse.coo_matrix((rng.random(5000), (rows, cols)), shape=(n, n)).tocsr()
    m = (m + m.T).tocsr()
    m.setdiag(0)
    m.eliminate_zeros()
    labels = rng.integers(-1, 40, n)
    row = np.repeat(np.arange(n), np.diff(m.indptr))
    inside = (labels[row] >= 0) & (labels[row] == labels[m.indices])
    induced = sparse.csr_matrix((inside.astype(float), m.indices, m.indptr), shape=m.shape)
    induced.eliminate_zeros()
    _, want = csgraph.connected_components(induced, directed=False)
    assert np.array_equal(connected(m, labels), np.where(labels >= 0, want, -1))


def test_timing_concentration_needs_many_exchanges_in_one_window() -> None:
    """A schedule shows over hundreds of exchanges; three exchanges in one hour are chance."""
    n = 30
    labels = np.repeat([0, 1, 2], 10)
    table = _table(n)
    table["h3"][:10] = 40  # community 0: everything at 03:00 UTC
    for h in range(24):
        table[f"h{h}"][10:20] = 2  # community 1: spread over the day
    table["h5"][20:23] = 1  # community 2: three exchanges, one hour
    inc = incidence([("PAID_WITH", list(range(n)))], n)
    out = score(table, labels, inc, project(inc, W, 200, 32, 4, 1), np.zeros(n, np.int64))
    timing = out.features[:, out.feature_names.index("timing_concentration")]
    assert timing[0] > 0.85 and timing[1] < 0.01 and timing[2] < 0.1


def test_a_team_in_the_networks_coworking_space_is_split_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The team shares the place (NAT, domain) with the network, and a card and a client
    build among itself, but none of the network's templates or builds."""
    from backend.detection.pipeline import split_bystanders

    network, team = list(range(20)), list(range(20, 26))
    groups = [("PAID_WITH", network[i : i + 4]) for i in range(0, 20, 4)]
    groups += [("USED_TEMPLATE", network), ("USED_IP", network + team),
               ("PAID_WITH", team), ("USED_CLIENT", team)]  # fmt: skip
    inc = incidence(groups, 26)
    out = split_bystanders(inc, np.zeros(26, np.int64), link_cap=200)
    assert len(set(out[network].tolist())) == 1 and len(set(out[team].tolist())) == 1
    assert out[0] != out[20]
    # A band one fake and one team member hold is what chance gives (16-bit bands): still apart.
    chance = incidence([*groups, ("USED_TEMPLATE", [0, 20])], 26)
    assert split_bystanders(chance, np.zeros(26, np.int64), 200)[20] != 0
    # One team member whose prompt landed on the network's own band (held far above chance by
    # the rest) is a collision, not the team's behaviour: still apart.
    one = incidence([*groups, ("USED_TEMPLATE", [*network, 20])], 26)
    assert split_bystanders(one, np.zeros(26, np.int64), 200)[20] != 0
    # Half the team using the network's template is part of it.
    shared = incidence([*groups, ("USED_TEMPLATE", [*network, 20, 21, 22])], 26)
    assert len(set(split_bystanders(shared, np.zeros(26, np.int64), 200).tolist())) == 1
    # Three colleagues not on the team's card yet hold only its build and the place: they are
    # the team's, not the network's, and go with it (each alone "shared" the build with the
    # rest of the cluster: the team).
    late = [("PAID_WITH", network[i : i + 4]) for i in range(0, 20, 4)]
    late += [("USED_TEMPLATE", network), ("USED_IP", list(range(29))),
             ("PAID_WITH", team), ("USED_CLIENT", [*team, 26, 27, 28])]  # fmt: skip
    split = split_bystanders(incidence(late, 29), np.zeros(29, np.int64), 200)
    assert len(set(split[20:].tolist())) == 1 and split[20] != split[0]
    assert len(set(split[network].tolist())) == 1
    # A team member whose prompt landed on a band one of the network's card rings holds most
    # of does not carry the team into the ring's faction (nor the ring out with the team).
    ring = incidence([*late, ("USED_TEMPLATE", [0, 1, 20])], 29)
    split = split_bystanders(ring, np.zeros(29, np.int64), 200)
    assert len(set(split[network].tolist())) == 1 and split[20] != split[0]
    # The path for graphs too large for one integer key gives the same answers.
    for case in (inc, chance, one, shared):
        fast = split_bystanders(case, np.zeros(26, np.int64), 200)
        monkeypatch.setattr("backend.detection.pipeline.KEY_LIMIT", 0)
        assert np.array_equal(split_bystanders(case, np.zeros(26, np.int64), 200), fast)
        monkeypatch.undo()


def test_packed_account_inputs_are_scoring_columns() -> None:
    from backend.graph.model import ACCOUNT_INPUTS, HOUR_INPUTS

    assert set(ACCOUNT_INPUTS) <= set(ACCOUNT_COLUMNS)
    assert len(set(ACCOUNT_INPUTS)) == len(ACCOUNT_INPUTS)
    assert ACCOUNT_INPUTS[-len(HOUR_INPUTS) :] == HOUR_INPUTS  # the list ends with `hour_hist`


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_template_concentration_marks_the_members_holding_their_communitys_own_band(
    seed: int,
) -> None:
    """On random incidences: the share of each community's members holding a template band
    at least 3 of whose holders, and at least half, are in that community, counted member by
    member (bands held outside the graph's accounts count in the degree)."""
    rng = np.random.default_rng(seed)
    n, n_comm = 300, 12
    labels = np.where(rng.random(n) < 0.8, rng.integers(0, n_comm, n), -1)
    groups = []
    for _ in range(150):
        kind = "USED_TEMPLATE" if rng.random() < 0.7 else "PAID_WITH"
        home = rng.integers(0, n_comm)
        inside = np.flatnonzero(labels == home)
        size = int(rng.integers(2, 12))
        holders = np.unique(np.r_[rng.choice(inside, min(size, inside.size), replace=False),
                                  rng.integers(0, n, int(rng.integers(0, 6)))])  # fmt: skip
        groups.append((kind, holders.tolist()))
    inc = incidence(groups, n)
    inc = Incidence(**{**inc.__dict__, "degree": inc.degree + rng.integers(0, 3, inc.degree.size)})
    out = score(_table(n), labels, inc, project(inc, W, 200, 32, 4, 1), np.zeros(n, np.int64))
    got = out.features[:, out.feature_names.index("template_concentration")]
    marked = np.zeros(n, bool)
    for j, (kind, holders) in enumerate(groups):
        for c in range(n_comm):
            count = sum(labels[h] == c for h in holders)
            if kind == "USED_TEMPLATE" and count >= 3 and 2 * count >= inc.degree[j]:
                marked[[h for h in holders if labels[h] == c]] = True
    want = [marked[labels == c].mean() if (labels == c).any() else 0.0 for c in range(n_comm)]
    assert np.allclose(got, want) and (np.asarray(want) > 0).sum() >= 3


def test_packed_inputs_round_trip_as_little_endian_int64() -> None:
    from backend.graph.model import ACCOUNT_INPUTS, pack_inputs, unpack_inputs

    rows = [list(range(len(ACCOUNT_INPUTS))), [2**40, -1, *([7] * (len(ACCOUNT_INPUTS) - 2))]]
    packed = pack_inputs(rows)
    assert [len(p) for p in packed] == [8 * len(ACCOUNT_INPUTS)] * 2
    assert packed[0][:16] == (0).to_bytes(8, "little") + (1).to_bytes(8, "little")
    assert unpack_inputs(packed).tolist() == rows
    assert unpack_inputs([]).shape == (0, len(ACCOUNT_INPUTS))


def test_a_network_cut_in_parts_holds_its_templates_over_its_kin() -> None:
    """Three parts of one network each hold a third of its two template bands; a fourth cluster
    holds a third of a band the rest of the graph holds too. Alone, no part holds half of any
    band; judged with the parts it is tied to (`kin`), every part's members hold their own."""
    labels = np.repeat([0, 1, 2, 3], 10)
    network = list(range(30))
    groups = [("USED_TEMPLATE", network), ("USED_TEMPLATE", network[::2]),
              ("USED_TEMPLATE", list(range(30, 40)) + list(range(40, 60)))]  # fmt: skip
    inc = incidence(groups, 60)
    labels = np.r_[labels, np.full(20, -1)]
    table = _table(60)
    matrix = project(inc, W, 200, 32, 4, 1)
    shape = np.zeros(60, np.int64)
    tpl = "template_concentration"
    alone = score(table, labels, inc, matrix, shape)
    assert np.allclose(alone.features[:, alone.feature_names.index(tpl)], 0.0)
    kin = np.array([[0, 1], [0, 2], [1, 2]])
    out = score(table, labels, inc, matrix, shape, kin)
    assert np.allclose(out.features[:, out.feature_names.index(tpl)], [1.0, 1.0, 1.0, 0.0])
    assert (out.risk[:3] > alone.risk[:3]).all() and out.risk[3] == alone.risk[3]
    # Tied only to one other part, a part sees two thirds of each band: still over half.
    out = score(table, labels, inc, matrix, shape, np.array([[0, 1]]))
    assert np.allclose(out.features[:, out.feature_names.index(tpl)], [1.0, 1.0, 0.0, 0.0])
