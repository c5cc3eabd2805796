"""Every account's community as the last refresh's Leiden left it, kept on the worker's disk, so
that the next refresh's Leiden starts every account where it was, not only the members of the
clusters Neo4j holds (`pipeline.previous_labels`).

A refresh runs one Leiden pass (`DETECTION_LEIDEN_ITERATIONS`). Started from the previous
clusters alone, every other account starts as a singleton and that one pass is all the search
it gets, refresh after refresh: a thin behaviour-only network that one pass scatters over its
members' /24s stayed scattered at every refresh (`docs/detection.md`, "Communities and the
second pass"). Started from where the last pass left it, each refresh's pass continues the
search, as more passes in one refresh would, at no cost to the refresh.

Like the incidence cache (`snapshot_cache`), it names the refresh that wrote it and is used only
while that refresh is the last one that wrote (`repository.LAST_RUN`): a refresh on another
worker, one that died or a backfill leave it unused, and Leiden starts from the clusters as
before.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from backend.detection.pipeline import Partition

log = logging.getLogger(__name__)


def save(partition: Partition, run_id: str, path: Path) -> None:
    """Written beside the current file, then swapped in by a rename: a reader sees the old one
    or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.npz"
    try:
        arrays: dict[str, Any] = {"nodes": partition.nodes, "labels": partition.labels}
        if partition.strengths is not None:
            arrays["strengths"] = partition.strengths
        np.savez(tmp, run=np.array(run_id), **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, run_id: str | None) -> Partition | None:
    """The partition, if the refresh that wrote it is `run_id` (the last one that wrote)."""
    if run_id is None:
        return None
    try:
        with np.load(path) as data:
            if str(data["run"]) != run_id:
                return None
            strengths = data["strengths"] if "strengths" in data.files else None
            return Partition(
                data["nodes"].astype(np.int64), data["labels"].astype(np.int64), strengths
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):
        log.warning("unreadable partition cache at %s", path)
        return None


def patched(old: Partition | None, region: Partition, recomputed: np.ndarray) -> Partition:
    """The whole graph's partition after a refresh of a region: the region's recomputed accounts
    (`recomputed`, node ids) where it put them, every other account where it was. The region's
    communities are numbered after the old ones (the two numberings are not the same one)."""
    if old is None or not old.nodes.size:
        return region
    keep = ~np.isin(old.nodes, recomputed)
    nodes = np.concatenate([old.nodes[keep], region.nodes])
    labels = np.concatenate([old.labels[keep], region.labels + int(old.labels.max()) + 1])
    _, dense = np.unique(labels, return_inverse=True)
    # A region's strengths are already the whole graph's where the old partition had them
    # (`pipeline._detect`); without strengths on either side, none are kept.
    strengths = None
    if old.strengths is not None and region.strengths is not None:
        strengths = np.concatenate([old.strengths[keep], region.strengths])
    return Partition(nodes.astype(np.int64), dense.astype(np.int64), strengths)
