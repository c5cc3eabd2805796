"""Where the last refresh's Leiden left every account: kept per run, patched by a region's
refresh, and the warm start of the accounts no previous cluster holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.detection import partition_cache
from backend.detection.pipeline import Partition, Previous, previous_labels
from backend.detection.records import Memberships


def _pairs(p: Partition) -> dict[int, int]:
    return dict(zip(p.nodes.tolist(), p.labels.tolist(), strict=True))


def test_only_the_last_run_s_partition_is_used(tmp_path: Path) -> None:
    path = tmp_path / "detection" / "partition.npz"
    assert partition_cache.load(path, "run-1") is None  # nothing kept yet
    kept = Partition.of(np.array([0, -1, 0, 1]), np.array([40, 10, 30, 20]))
    partition_cache.save(kept, "run-1", path)
    got = partition_cache.load(path, "run-1")
    assert got is not None and _pairs(got) == {40: 0, 30: 0, 20: 1}  # unplaced left out
    assert partition_cache.load(path, "run-2") is None  # another run wrote last
    assert partition_cache.load(path, None) is None
    assert [p.name for p in path.parent.iterdir()] == ["partition.npz"]  # no temporary left
    path.write_bytes(b"not an npz")
    assert partition_cache.load(path, "run-1") is None


def test_a_region_s_refresh_patches_the_whole_partition() -> None:
    old = Partition(np.array([1, 2, 3, 4, 5]), np.array([0, 0, 1, 1, 2]))
    # The region recomputed 3, 4 and 9 (new); it put 3 and 9 together, left 4 unplaced.
    region = Partition(np.array([3, 9]), np.array([0, 0]))
    got = _pairs(partition_cache.patched(old, region, np.array([3, 4, 9])))
    assert set(got) == {1, 2, 3, 5, 9}
    assert got[1] == got[2] and got[3] == got[9]
    assert len({got[1], got[3], got[5]}) == 3  # the region's community is a new one
    assert sorted(set(got.values())) == [0, 1, 2]  # numbered densely
    assert partition_cache.patched(None, region, np.array([3, 9])) is region


def test_accounts_outside_the_previous_clusters_start_where_leiden_left_them() -> None:
    node_ids = np.array([10, 20, 30, 40, 50, 60])
    members = Memberships(np.array([10, 20]), np.array(["c1", "c1"], dtype=object), None)
    previous = Previous(["c1"], {}, {"c1": 0}, members)
    # Without a partition, only the cluster's members start together.
    assert previous_labels(previous, node_ids).tolist() == [0, 0, -1, -1, -1, -1]
    # Leiden had put 30 and 40 together (its community 0, not the cluster's community 0), 50
    # alone, and 10 elsewhere: a cluster's members still start in its community.
    previous.partition = Partition(np.array([30, 40, 50, 10]), np.array([0, 0, 1, 1]))
    got = previous_labels(previous, node_ids).tolist()
    assert got[:2] == [0, 0] and got[2] == got[3] and got[2] != 0
    assert got[4] not in (0, got[2]) and got[5] == -1


def test_whole_graph_strengths_are_kept_and_patched(tmp_path: Path) -> None:
    """What a region's Leiden weighs pairs by (`pipeline._detect`): kept with the partition,
    the region's own for the accounts it recomputed, and 0 for an account never placed."""
    path = tmp_path / "partition.npz"
    kept = Partition.of(np.array([0, -1, 0, 1]), np.array([40, 10, 30, 20]),
                        np.array([4.0, 1.0, 3.0, 2.0]))  # fmt: skip
    partition_cache.save(kept, "run-1", path)
    got = partition_cache.load(path, "run-1")
    assert got is not None and got.strengths is not None
    assert got.strengths_of(np.array([10, 20, 30, 40, 50])).tolist() == [0.0, 2.0, 3.0, 4.0, 0.0]
    region = Partition(np.array([30, 9]), np.array([0, 0]), np.array([3.5, 0.5]))
    patched = partition_cache.patched(got, region, np.array([30, 9]))
    assert patched.strengths_of(np.array([9, 20, 30, 40])).tolist() == [0.5, 2.0, 3.5, 4.0]
    # A partition written without strengths (before they were kept) loads without them.
    partition_cache.save(Partition.of(np.array([0]), np.array([7])), "run-2", path)
    old = partition_cache.load(path, "run-2")
    assert old is not None and old.strengths is None
    assert partition_cache.patched(old, region, np.array([30, 9])).strengths is None
