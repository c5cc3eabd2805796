"""Stable cluster IDs across refreshes: match new communities to old clusters by member overlap.

Rules (each old cluster O, each new community C):
- O's successor is the C holding most of O's members. C inherits the ID of the predecessor that
  gives it the most members; other predecessors whose successor is C are `merged` into it.
- Other communities holding at least `split_share` of O, or made mostly of O's members, are
  `split` from O (new IDs, O as parent; a split's network id carries on, `pipeline.networks`).
- A C with no predecessor by members but sharing at least `regrow_evidence` evidence
  identifiers with an old cluster that has no successor is that cluster regrown under new
  accounts (same ID, `grown`). Otherwise it is `created` with a new ID.
- An old cluster with no successor is `dissolved`; its node, verdict and notes are kept.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ClusterEvent:
    type: str  # created | grown | shrunk | merged | split | dissolved
    cluster_id: str
    related: list[str] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0


@dataclass
class Assignment:
    ids: list[str]  # per new community
    events: list[ClusterEvent]
    parents: dict[str, list[str]]  # cluster id -> lineage parents (merged from / split from)
    merged_into: dict[str, str]  # old cluster id -> the cluster that absorbed it


def new_id(members: set[Any], taken: set[str] | None = None, prefix: str = "cl-") -> str:
    """Derived from the member set (account or node ids), so unchanged data gives the same ID;
    never one in `taken`: a community can come back to the exact member set an existing
    cluster was created with, and must not be written into that cluster."""
    base = "\n".join(sorted(map(str, members)))
    for salt in range(1_000_000):
        text = base if salt == 0 else f"{base}\n#{salt}"
        cid = f"{prefix}{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        if taken is None or cid not in taken:
            return cid
    raise RuntimeError("no free cluster id")


def assign(
    old: dict[str, set[Any]],
    new: list[set[Any]],
    old_evidence: dict[str, set[str]] | None = None,
    new_evidence: list[set[str]] | None = None,
    split_share: float = 0.2,
    regrow_evidence: int = 3,
    prefix: str = "cl-",
) -> Assignment:
    owner = {a: cid for cid, members in old.items() for a in members}
    overlap: list[Counter[str]] = [Counter(owner[a] for a in c if a in owner) for c in new]
    # Each old cluster's successor: the new community with most of its members (the first on
    # ties). One pass over the overlaps, not old x new.
    successor: dict[str, int] = {}
    best_n: dict[str, int] = {}
    for i, counts in enumerate(overlap):
        for cid, n in counts.items():
            if n > best_n.get(cid, 0):
                best_n[cid], successor[cid] = n, i
    preds_of: list[list[str]] = [[] for _ in new]
    for cid in sorted(successor):
        preds_of[successor[cid]].append(cid)

    ids: list[str | None] = [None] * len(new)
    events: list[ClusterEvent] = []
    parents: dict[str, list[str]] = {}
    for i, members in enumerate(new):
        preds = preds_of[i]
        if not preds:
            continue
        keeper = max(preds, key=lambda cid: (overlap[i][cid], cid))
        ids[i] = keeper
        before, after = len(old[keeper]), len(members)
        if after != before:
            events.append(
                ClusterEvent("grown" if after > before else "shrunk", keeper, [], before, after)
            )
        merged = sorted(p for p in preds if p != keeper)
        if merged:
            events.append(ClusterEvent("merged", keeper, merged, before, after))
            parents[keeper] = merged

    taken = {cid for cid in ids if cid is not None}
    # Every id in use (active, dissolved, or given out in this refresh) is off limits for a new one.
    in_use = set(old) | set(old_evidence or {}) | taken

    def fresh(members: set[Any]) -> str:
        cid = new_id(members, in_use, prefix)
        in_use.add(cid)
        return cid

    orphans = {cid for cid in old if cid not in successor}
    dormant = set(old_evidence or {}) - set(old)  # dissolved earlier, may regrow
    orphans |= dormant
    for i, members in enumerate(new):
        if ids[i] is not None:
            continue
        # Split: a sizeable share of some old cluster that lives on elsewhere, or a community
        # made mostly of one old cluster's members however small a share of it they were (a
        # 1,191-account network leaving the 5,736-account cluster it shared with another, 19.7%
        # of it, was `created` with no lineage, and its accounts lost their network id).
        sources = [cid for cid, n in overlap[i].items()
                   if n >= split_share * len(old[cid]) or 2 * n > len(members)]  # fmt: skip
        if sources:
            cid = fresh(members)
            ids[i] = cid
            src = sorted(sources)
            events.append(ClusterEvent("split", cid, src, 0, len(members)))
            parents[cid] = src
            continue
        # Regrowth: a cluster with no members left, whose evidence reappears here.
        if old_evidence and new_evidence:
            shared = [(len(old_evidence.get(cid, set()) & new_evidence[i]), cid) for cid in orphans]
            common, match = max(shared, default=(0, ""))
            if common >= regrow_evidence and match not in taken:
                ids[i] = match
                taken.add(match)
                orphans.discard(match)
                events.append(ClusterEvent("grown", match, [], 0, len(members)))
                continue
        cid = fresh(members)
        ids[i] = cid
        events.append(ClusterEvent("created", cid, [], 0, len(members)))

    for cid in sorted(orphans - dormant):
        events.append(ClusterEvent("dissolved", cid, [], len(old[cid]), 0))
    merged_into = {p: e.cluster_id for e in events if e.type == "merged" for p in e.related}
    return Assignment(
        ids=[cid or "" for cid in ids], events=events, parents=parents, merged_into=merged_into
    )


# A membership confidence that moved less than this keeps its stored value: small drifts from a
# slightly different partition of a community are not worth rewriting its members for.
CONFIDENCE_TOLERANCE = 0.01


def membership_changes(
    old_node: np.ndarray[Any, Any],
    old_cluster: np.ndarray[Any, Any],
    old_conf: np.ndarray[Any, Any],
    new_node: np.ndarray[Any, Any],
    new_cluster: np.ndarray[Any, Any],
    new_conf: np.ndarray[Any, Any],
    tolerance: float = CONFIDENCE_TOLERANCE,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Which new memberships to write and which old ones to end (boolean masks).

    A membership that keeps its account and cluster, and whose confidence moved less than
    `tolerance`, is left alone (with its stored confidence), so a refresh over a mostly
    unchanged graph writes only what changed. An account belongs to at most one cluster on
    each side.
    """
    order = np.argsort(old_node, kind="stable")
    sorted_nodes = old_node[order]
    pos = np.minimum(np.searchsorted(sorted_nodes, new_node), max(old_node.size - 1, 0))
    same = np.zeros(new_node.size, bool)
    if old_node.size:
        match = order[pos]
        same = (
            (sorted_nodes[pos] == new_node)
            & (old_cluster[match] == new_cluster)
            & (np.abs(old_conf[match] - new_conf) < tolerance)
        )
    kept = np.zeros(old_node.size, bool)
    if same.any():
        kept[order[pos[same]]] = True
    return ~same, ~kept
