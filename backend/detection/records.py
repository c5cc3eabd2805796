"""What a refresh hands the write-back: cluster rows and membership changes, as plain data.

Kept apart from `repository` (which runs them) so the pure pipeline builds them without a
database in sight, and unit tests can read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

WRITE_BATCH = 10_000


@dataclass
class Memberships:
    """Parallel columns (sent as lists, not one map per row: a million of them is the bulk)."""

    nodes: np.ndarray[Any, Any]  # internal node ids of the accounts
    clusters: np.ndarray[Any, Any]  # cluster ids (str)
    confidences: np.ndarray[Any, Any] | None = None
    why: np.ndarray[Any, Any] | None = None  # JSON per membership (`pipeline.member_why`)

    def __len__(self) -> int:
        return int(self.nodes.size)

    def lanes(self, n: int) -> list[Memberships]:
        """Split by cluster, so no two lanes touch the same cluster node (nor, since an account
        appears once per phase, the same account): lanes write side by side without lock waits.
        """
        if not len(self):
            return []
        _, code = np.unique(self.clusters.astype(str), return_inverse=True)
        lane = code % n
        return [
            Memberships(
                self.nodes[lane == k], self.clusters[lane == k],
                None if self.confidences is None else self.confidences[lane == k],
                None if self.why is None else self.why[lane == k],
            )
            for k in range(n) if (lane == k).any()
        ]  # fmt: skip

    def batches(self) -> Iterator[dict[str, list[Any]]]:
        for i in range(0, len(self), WRITE_BATCH):
            part = slice(i, i + WRITE_BATCH)
            cols = {"nodes": self.nodes[part].tolist(), "clusters": self.clusters[part].tolist()}
            if self.confidences is not None:
                cols["confidences"] = self.confidences[part].tolist()
                # Memberships written without a why (a hand-built write-back) store none.
                why = self.why[part].tolist() if self.why is not None else None
                cols["why"] = why or [None] * len(cols["nodes"])
            yield cols


@dataclass
class WriteBack:
    run_id: str
    now_ms: int
    clusters: list[dict[str, Any]]
    members: Memberships  # staged: new memberships and changed confidences
    ends: Memberships  # staged: memberships removed or replaced
    total_members: int
    retired: list[dict[str, Any]]
    lineage: list[dict[str, Any]]
    events: list[dict[str, Any]]
    stats: str
    # "full", or "region" for an incremental refresh (which writes only its region's clusters).
    scope: str = "full"
    # Total link weight of the projection a full refresh saw: an incremental refresh scales
    # Leiden's resolution by its region's share of it (`pipeline.detect`).
    weight: float | None = None
