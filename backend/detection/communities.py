"""Leiden on the projected graph (igraph, seeded), isolated accounts left out."""

from __future__ import annotations

import random
from collections.abc import Iterator

import igraph as ig
import numpy as np
import numpy.typing as npt
from scipy import sparse

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def leiden(
    matrix: sparse.csr_matrix,
    resolution: float,
    seed: int,
    initial: I64 | None = None,
    iterations: int = 2,
    groups: I64 | None = None,
    strengths: F64 | None = None,
) -> I64:
    """Community label per account (-1 for accounts with no link), labels dense from 0.

    Modularity rather than CPM: the weights are normalised per identifier, so modularity's
    null model (expected weight from each node's strength) compares like with like whether a
    network has 10 accounts or 10,000.

    `initial` (previous refresh's cluster per account, -1 for none) warm-starts the search, so
    small changes to the graph move few accounts between communities: stable IDs need stable
    communities, and a seeded cold start can reshuffle a network after one new edge.

    `iterations` passes of Leiden (-1: until nothing moves); warm-started refreshes start from
    a converged partition, so a few passes suffice.

    `groups` (per account: a group number, or -1): accounts of one group move together, as
    one vertex whose strength is theirs and whose internal weight is a self-loop, so the
    objective is the one on the whole graph. An incremental refresh groups the untouched
    members of each previous cluster: Leiden then places only what changed (and may merge
    clusters), on a graph of a few thousand vertices instead of every member's edges; splits
    are the scheduled full refresh's to make.

    `strengths` (per account): the strengths modularity's null model weighs a pair by, when
    not the matrix's own row sums: a region's accounts' strengths in the whole graph. An
    account of a region keeps only its edges to the region, so its row sum can be half its
    strength and two clusters merge that the whole graph keeps apart (`docs/detection.md`,
    "Incremental refresh"). `resolution` is then per unit of their sum, as it is per unit of
    the matrix's sum without them.
    """
    if groups is not None and (groups >= 0).any():
        return _grouped(matrix, resolution, seed, initial, iterations, groups, strengths)
    return _leiden(matrix, resolution, seed, initial, iterations, strengths=strengths)


def _leiden(
    matrix: sparse.csr_matrix,
    resolution: float,
    seed: int,
    initial: I64 | None,
    iterations: int,
    loops: bool = False,
    strengths: F64 | None = None,
) -> I64:
    """`loops`: the diagonal holds each vertex's internal weight twice (a contracted graph);
    it becomes a self-loop, which igraph counts twice in the vertex's strength. `strengths`:
    each vertex's strength for the null model (`leiden`), else its row sum."""
    n = matrix.shape[0]
    labels = np.full(n, -1, np.int64)
    # The upper triangle as `sparse.triu` gives it (the same entries in the same order), by one
    # mask over the COO form: 40% faster; and the linked vertices by counting, not sorting.
    coo = matrix.tocoo()
    keep = coo.row <= coo.col if loops else coo.row < coo.col
    upper = sparse.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
    del coo, keep
    if loops:
        upper.data[upper.row == upper.col] /= 2
    if upper.nnz == 0:
        return labels
    ends = np.bincount(upper.row, minlength=n) + np.bincount(upper.col, minlength=n)
    linked = np.flatnonzero(ends > 0)
    index = np.full(n, -1, np.int64)
    index[linked] = np.arange(linked.size)
    # igraph's stable-ABI build turns any edge list into Python pairs (a numpy array or a
    # memoryview included) and reads any iterable: fed a slice at a time, only one slice's
    # pairs exist at once. On the `full` preset's 5.19M edges Leiden's peak fell by 590 MiB
    # and the build took 1.5 s against 2.3 s for the whole list and its two halves
    # (docs/benchmarks.md, "Full preset"); same edges, same order, same graph.
    graph = ig.Graph(n=int(linked.size), edges=_pairs(index[upper.row], index[upper.col]))
    node_weights = strengths
    if node_weights is None and loops:
        node_weights = np.asarray(matrix.sum(axis=1)).ravel()
    # Seeded for determinism, not secrecy; set_random_number_generator returns nothing to restore.
    ig.set_random_number_generator(random.Random(seed))  # noqa: S311
    start = None
    if initial is not None:
        init = initial[linked].copy()
        fresh = init < 0
        init[fresh] = init.max(initial=-1) + 1 + np.arange(int(fresh.sum()))
        _, start_arr = np.unique(init, return_inverse=True)
        start = start_arr.tolist()
    try:
        partition = graph.community_leiden(
            objective_function="modularity",
            weights=upper.data,  # read value by value: no list of floats beside the graph
            resolution=resolution,
            initial_membership=start,
            n_iterations=iterations,
            # A self-loop's weight counts twice in its vertex's strength, as its pairs did.
            node_weights=node_weights[linked].tolist() if node_weights is not None else None,
        )
    finally:
        ig.set_random_number_generator(random)
    labels[linked] = np.asarray(partition.membership, np.int64)
    return labels


def _pairs(rows: I64, cols: I64, step: int = 1 << 18) -> Iterator[tuple[int, int]]:
    """The edges as igraph reads them, `step` at a time."""
    for at in range(0, rows.size, step):
        yield from zip(rows[at : at + step].tolist(), cols[at : at + step].tolist(), strict=True)


def _grouped(
    matrix: sparse.csr_matrix,
    resolution: float,
    seed: int,
    initial: I64 | None,
    iterations: int,
    groups: I64,
    strengths: F64 | None = None,
) -> I64:
    n = matrix.shape[0]
    free = groups < 0
    n_groups = int(groups.max()) + 1
    vertex = np.where(free, n_groups + np.cumsum(free) - 1, groups)
    size = n_groups + int(free.sum())
    into = sparse.csr_matrix((np.ones(n), (np.arange(n), vertex)), shape=(n, size))
    contracted = (into.T @ matrix @ into).tocsr()
    start = None
    if initial is not None:
        start = np.full(size, -1, np.int64)
        np.maximum.at(start, vertex, initial)  # a group's members share their community
    # A group's strength is its members' (their row sums add up to the contracted row's).
    held = None if strengths is None else into.T @ strengths
    labels = _leiden(contracted, resolution, seed, start, iterations, True, held)[vertex]
    labels[np.asarray(matrix.getnnz(axis=1)) == 0] = -1  # no link, no community
    _, dense = np.unique(labels[labels >= 0], return_inverse=True)
    labels[labels >= 0] = dense
    return labels
