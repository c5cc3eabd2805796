"""The whole graph's incidence as the last refresh read it, kept on the worker's disk, so that an
incremental refresh reads from Neo4j only the links of the accounts ingest touched since, not
the whole region it recomputes (`docs/detection.md`, "Incremental refresh").

Exact, because the graph only grows and every write marks its accounts (`backend.graph.touched`):
an identifier gains holders only by touched accounts joining it, and its degree grows only with
them. `merge` adds what the touched accounts hold now; the result equals a fresh export
(`tests/integration/detection/test_snapshot_cache.py`).

A cache names the refresh that read it and is used only while that refresh is the last one
that wrote (`repository.LAST_RUN`) and the export's settings are the same: a refresh on another
worker, one that died, a backfill or new settings leave the cache unused, and the incremental
refresh reads its region from Neo4j as before.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.detection.projection import Incidence, locate

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
Names = npt.NDArray[np.bytes_]
SEPARATOR = "\x00"  # between keys in the saved blob (identifier keys never hold it)
FORMAT = 3  # bumped when the saved arrays change: an older cache is not used


@dataclass
class WholeGraph:
    """An export of every identifier with 2..cap holders (`reads.export_incidence`), with what
    a later merge needs: each account's id (dense order is their ascending order) and each
    identifier's internal node id."""

    incidence: Incidence
    node_ids: I64  # dense account -> internal node id
    account_ids: Names  # dense account -> account id as UTF-8 (ascending)
    idents: I64  # identifier -> internal node id
    run_id: str = ""  # the refresh that read it
    signature: str = ""  # the export settings it was read with (`signature`)
    # When the graph it descends from was read whole from Neo4j (epoch seconds): merges keep it,
    # so a full refresh knows how long it has trusted the touched marks alone.
    exported_at: float = 0.0
    # The fewest holders of a template band it holds (`reads._template_floor`): a merge can drop
    # bands when the floor rises, but not bring back those it never held when it falls.
    template_floor: int = 0
    _ident_order: I64 | None = field(default=None, repr=False)
    _node_order: I64 | None = field(default=None, repr=False)

    def ident_order(self) -> I64:
        """`argsort(idents)`, computed once (saved with the cache)."""
        if self._ident_order is None:
            self._ident_order = np.argsort(self.idents, kind="stable").astype(np.int64)
        return self._ident_order

    def node_order(self) -> I64:
        """`argsort(node_ids)`, computed once (saved with the cache)."""
        if self._node_order is None:
            self._node_order = np.argsort(self.node_ids, kind="stable").astype(np.int64)
        return self._node_order


@dataclass
class TouchedLinks:
    """What the touched accounts hold now, one row per link (`repository.TOUCHED_LINKS`):
    identifiers with at least their kind's floor of holders, and their degree. No keys: the
    cache has those of all but the few `needed` identifiers (`Fresh`)."""

    nodes: I64
    kind: I64  # index into the incidence's kinds
    idents: I64
    degree: I64


@dataclass
class Fresh:
    """The identifiers `needed` named, with their keys and all their holders
    (`repository.IDENTIFIER_HOLDERS`), in any order."""

    idents: I64
    keys: list[str]
    holders: list[list[int]]


def signature(kinds: tuple[str, ...], feature_cap: int) -> str:
    return json.dumps({"kinds": list(kinds), "cap": feature_cap, "format": FORMAT})


def names(ids: list[str] | npt.NDArray[Any]) -> Names:
    """Account ids as UTF-8 bytes: their byte order is their code-point order, the order
    `projection.in_account_order` gives accounts."""
    return np.asarray([str(i).encode() for i in ids], dtype=np.bytes_)


def needed(graph: WholeGraph, links: TouchedLinks, floors: I64, cap: int) -> I64:
    """Identifiers (internal ids) the touched accounts hold that are shared now but not in the
    cache: their other holders must be read (`repository.IDENTIFIER_HOLDERS`)."""
    within = (links.degree >= floors[links.kind]) & (links.degree <= cap)
    _, cached = locate(graph.idents, links.idents, graph.ident_order())
    return np.unique(links.idents[within & ~cached])


def merge(
    graph: WholeGraph,
    links: TouchedLinks,
    fresh: Fresh,
    names_of: Callable[[I64], list[str]],
    floors: I64,
    cap: int,
    population: int,
) -> WholeGraph:
    """The cache brought up to date: `links` (the touched accounts' identifiers now), `fresh`
    (all holders of the identifiers `needed` named), `names_of` (reads the account ids of the
    nodes in either that the cache does not hold). `floors`: fewest holders per kind (the template
    floor rises as the graph grows); `cap`: most. Vectorised: a million-account graph merges
    in under a second (`docs/benchmarks.md`)."""
    inc = graph.incidence
    n_idents = inc.degree.size
    # 1. The touched identifiers: cached ones gain holders or leave (past the cap); shared ones
    #    the cache lacked come in with all their holders.
    u_idents, first = np.unique(links.idents, return_index=True)
    u_kind, u_degree = links.kind[first], links.degree[first]
    at, cached = locate(graph.idents, u_idents, graph.ident_order())
    within = (u_degree >= floors[u_kind]) & (u_degree <= cap)
    degree = inc.degree.copy()
    degree[at[cached]] = u_degree[cached]
    keep = (degree >= floors[inc.kind]) & (degree <= cap)  # the template floor may have risen
    patched = np.zeros(n_idents, bool)
    patched[at[cached & within]] = True
    fresh_idents, fresh_lists = fresh.idents, fresh.holders
    new_sel = np.flatnonzero(~cached & within)
    new_idents = u_idents[new_sel]
    f_pos, f_found = locate(fresh_idents, new_idents)
    if not f_found.all():
        raise ValueError("holders missing for identifiers the cache lacks")

    # 2. Accounts: the cache's, and new ones (touched, or holders of new identifiers) inserted
    #    in account-id order.
    fresh_lengths = np.fromiter((len(fresh_lists[p]) for p in f_pos.tolist()), np.int64,
                                count=int(f_pos.size))  # fmt: skip
    fresh_nodes = np.fromiter(
        (n for p in f_pos.tolist() for n in fresh_lists[p]), np.int64,
        count=int(fresh_lengths.sum()),
    )  # fmt: skip
    accounts = _with_new_accounts(graph, np.concatenate([links.nodes, fresh_nodes]), names_of)
    old_to_new, dense, total_accounts = accounts.old_to_new, accounts.dense, accounts.total

    # 3. Holder lists of the patched and new identifiers (sorted, unique), in one buffer.
    rows = inc.identifier_of_row
    holders = old_to_new[inc.holders]
    take = patched[rows]
    touched_at, touched_cached = locate(graph.idents, links.idents, graph.ident_order())
    touched_ok = touched_cached & patched[touched_at]
    new_code = n_idents + np.arange(new_idents.size)
    # As one sorted key (identifier, account): the cached rows already are in that order (holders
    # sorted within an identifier, the account renumbering monotone), so only the few new rows
    # are sorted, then inserted (a sort of the millions of rows of a network's identifiers
    # cost half a second).
    scale = np.int64(total_accounts)
    cached_group, cached_member = rows[take], holders[take]
    cached_key = cached_group * scale + cached_member
    added = np.concatenate([touched_at[touched_ok], np.repeat(new_code, fresh_lengths)])
    added_member = np.concatenate([dense(links.nodes[touched_ok]), dense(fresh_nodes)])
    added_key = np.unique(added * scale + added_member)
    slot_in = np.searchsorted(cached_key, added_key)
    present = cached_key[np.minimum(slot_in, max(cached_key.size - 1, 0))] == added_key
    present &= slot_in < cached_key.size
    slot, new_key = slot_in[~present], added_key[~present]
    group = np.insert(cached_group, slot, new_key // scale)
    member = np.insert(cached_member, slot, new_key % scale)
    # `group` is sorted: its runs are the buffer's identifiers (no np.unique sort).
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if group.size else group
    groups = group[starts]
    counts = np.diff(np.r_[starts, group.size])

    # 4. Identifier order: kind, then key; new identifiers go where their key sorts.
    new_kind = u_kind[new_sel]
    new_keys = [fresh.keys[p] for p in f_pos.tolist()]
    final = _identifier_order(inc, keep, new_kind, new_keys)

    # 5. Assemble: each final identifier's holders come from the cache's (remapped) rows, or
    #    from the buffer when patched or new.
    buffered = np.zeros(n_idents + new_idents.size, bool)
    buffered[groups] = True
    buf_start = np.zeros(n_idents + new_idents.size, np.int64)
    buf_start[groups] = starts
    buf_len = np.zeros(n_idents + new_idents.size, np.int64)
    buf_len[groups] = counts
    cached_len = np.concatenate([np.diff(inc.ptr), np.zeros(new_idents.size, np.int64)])
    cached_start = np.concatenate([inc.ptr[:-1], np.zeros(new_idents.size, np.int64)])
    use_buf = buffered[final]
    lengths = np.where(use_buf, buf_len[final], cached_len[final])
    source_start = np.where(use_buf, buf_start[final] + holders.size, cached_start[final])
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    pick = np.repeat(source_start - ptr[:-1], lengths) + np.arange(int(ptr[-1]))
    final_holders = np.concatenate([holders, member])[pick]

    # 6. Accounts that hold nothing any more (their identifiers left) are not in an export.
    held = np.bincount(final_holders, minlength=total_accounts) > 0
    # Nearly always every account still holds something: then the numbering stays.
    compact = None if held.all() else np.cumsum(held) - 1
    is_new = final >= n_idents
    src_old = np.where(is_new, 0, final)
    src_new = np.where(is_new, final - n_idents, 0)
    keys = np.empty(final.size, object)
    keys[~is_new] = np.asarray(inc.keys, object)[src_old[~is_new]]
    keys[is_new] = np.asarray(new_keys, object)[src_new[is_new]]
    kind = np.where(is_new, new_kind[src_new] if new_kind.size else 0, inc.kind[src_old])
    deg = np.where(is_new, u_degree[new_sel][src_new] if new_sel.size else 0, degree[src_old])
    idents = np.where(is_new, new_idents[src_new] if new_idents.size else 0,
                      graph.idents[src_old])  # fmt: skip
    merged = Incidence(
        kind=kind.astype(np.int64), degree=deg.astype(np.int64), keys=keys.tolist(), ptr=ptr,
        holders=(final_holders if compact is None else compact[final_holders]).astype(np.int64),
        kinds=inc.kinds,
        accounts=int(held.sum()), population=population,
    )  # fmt: skip
    return WholeGraph(
        merged, accounts.node_ids[held], accounts.account_ids[held], idents.astype(np.int64),
        signature=graph.signature, exported_at=graph.exported_at,
    )  # fmt: skip


def _identifier_order(
    inc: Incidence, keep: npt.NDArray[np.bool_], new_kind: I64, new_keys: list[str]
) -> I64:
    """The merged identifiers in (kind, key) order: kept cached ones by index, new ones as
    `len(inc.keys) + k`, each placed where its key sorts within its kind."""
    n_idents = inc.degree.size
    new_code = n_idents + np.arange(len(new_keys))
    kind_lo = np.searchsorted(inc.kind, np.arange(len(inc.kinds)), side="left")
    kind_hi = np.searchsorted(inc.kind, np.arange(len(inc.kinds)), side="right")
    place = np.fromiter(
        (bisect_left(inc.keys, key, int(kind_lo[k]), int(kind_hi[k]))
         for k, key in zip(new_kind.tolist(), new_keys, strict=True)),
        np.int64, count=len(new_keys),
    )  # fmt: skip
    # Cached identifier j sorts at 2j+1, a new one placed before j at 2j; among new ones placed
    # together, by kind (the end of one kind is the start of the next), then key.
    key_rank = np.empty(len(new_keys), np.int64)
    # (Keys never hold NUL, the one character numpy's strings drop at the end: see `save`.)
    by_place = np.lexsort((np.asarray(new_keys, dtype=str), new_kind, place))
    key_rank[by_place] = np.arange(len(new_keys))
    sort_cached = 2 * np.flatnonzero(keep)
    final_src = np.concatenate([np.flatnonzero(keep), new_code])
    final_sort = np.concatenate([sort_cached + 1, 2 * place])
    final_tie = np.concatenate([np.zeros(sort_cached.size, np.int64), key_rank])
    return np.asarray(final_src[np.lexsort((final_tie, final_sort))], np.int64)


@dataclass
class _Accounts:
    """The cache's accounts with new ones inserted in account-id order."""

    node_ids: I64
    account_ids: Names
    old_to_new: I64  # the cache's dense index -> the new one (monotone)
    dense: Callable[[I64], I64]  # internal node ids -> new dense index
    total: int


def _with_new_accounts(
    graph: WholeGraph, nodes: I64, names_of: Callable[[I64], list[str]]
) -> _Accounts:
    node_order = graph.node_order()
    involved = np.unique(nodes)
    _, known = locate(graph.node_ids, involved, node_order)
    extra = involved[~known]
    extra_names = names(names_of(extra)) if extra.size else names([])
    by_name = np.argsort(extra_names, kind="stable")
    extra, extra_names = extra[by_name], extra_names[by_name]
    slot = np.searchsorted(graph.account_ids, extra_names)
    n_old = graph.node_ids.size
    old_to_new = np.arange(n_old) + np.searchsorted(slot, np.arange(n_old), side="right")
    extra_to_new = slot + np.arange(extra.size)
    total = n_old + extra.size
    node_ids = np.empty(total, np.int64)
    node_ids[old_to_new], node_ids[extra_to_new] = graph.node_ids, extra
    wide = max(graph.account_ids.dtype, extra_names.dtype, key=lambda t: t.itemsize)
    account_ids = np.empty(total, dtype=wide)
    account_ids[old_to_new], account_ids[extra_to_new] = graph.account_ids, extra_names
    extra_order = np.argsort(extra, kind="stable")

    def dense(query: I64) -> I64:
        pos, known = locate(graph.node_ids, query, node_order)
        out = old_to_new[pos]
        at, _ = locate(extra, query[~known], extra_order)
        out[~known] = extra_to_new[at]
        return np.asarray(out, np.int64)

    return _Accounts(node_ids, account_ids, old_to_new.astype(np.int64), dense, int(total))


# --- on disk ---------------------------------------------------------------------------------

_ARRAYS = ("kind", "degree", "ptr", "holders")


def save(graph: WholeGraph, directory: Path) -> None:
    """Written beside the current cache, then swapped in by a rename: a reader sees the old one
    or the new one, never half."""
    written = write(graph, directory)
    if written is not None:
        publish(written, directory)


def write(graph: WholeGraph, directory: Path) -> Path | None:
    """The cache written beside the current one and not yet in use (None if it cannot be):
    `publish` swaps it in, `discard` drops it (a refresh that defers keeps the cache the last
    committed refresh left)."""
    if any(SEPARATOR in k for k in graph.incidence.keys):
        log.warning("identifier key with a NUL byte: the incremental cache is not written")
        return None
    directory.parent.mkdir(parents=True, exist_ok=True)
    # What a refresh that died before `publish` or `discard` left (refreshes hold one lock, so
    # no other writer's): dropped, or each failed refresh would leave a graph's worth on disk.
    for stale in directory.parent.glob(f".{directory.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    inc = graph.incidence
    blob = SEPARATOR.join(inc.keys).encode()
    arrays: dict[str, Any] = {a: getattr(inc, a) for a in _ARRAYS}
    np.savez(
        tmp / "graph.npz", **arrays, node_ids=graph.node_ids, account_ids=graph.account_ids,
        idents=graph.idents, keys=np.frombuffer(blob, np.uint8),
        ident_order=graph.ident_order(), node_order=graph.node_order(),
    )  # fmt: skip
    meta = {
        "run_id": graph.run_id,
        "signature": graph.signature,
        "exported_at": graph.exported_at,
        "template_floor": graph.template_floor,
        "kinds": list(inc.kinds),
        "accounts": inc.accounts,
        "population": inc.population,
        "identifiers": len(inc.keys),
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    return tmp


def publish(written: Path, directory: Path) -> None:
    old = directory.parent / f".{directory.name}.old.{uuid.uuid4().hex[:8]}"
    if directory.exists():
        directory.rename(old)
    written.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def discard(written: Path) -> None:
    shutil.rmtree(written, ignore_errors=True)


def load(
    directory: Path, run_id: str | None, sig: str, exported_after: float = 0.0
) -> WholeGraph | None:
    """The cache, if the refresh that read it is `run_id` with the same export settings, and
    the graph it descends from was read whole after `exported_after` (epoch seconds; checked
    before the arrays are read: cold, they took 7.6 s at a million accounts)."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if run_id is None or meta.get("run_id") != run_id or meta.get("signature") != sig:
        return None
    if float(meta.get("exported_at", 0.0)) < exported_after:
        return None
    try:
        with np.load(directory / "graph.npz") as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        log.warning("unreadable incremental cache at %s", directory)
        return None
    blob = arrays["keys"].tobytes().decode()
    keys = blob.split(SEPARATOR) if meta["identifiers"] else []
    inc = Incidence(
        kind=arrays["kind"], degree=arrays["degree"], keys=keys, ptr=arrays["ptr"],
        holders=arrays["holders"], kinds=tuple(meta["kinds"]), accounts=int(meta["accounts"]),
        population=int(meta["population"]),
    )  # fmt: skip
    return WholeGraph(inc, arrays["node_ids"], arrays["account_ids"], arrays["idents"],
                      run_id=run_id, signature=sig,
                      exported_at=float(meta.get("exported_at", 0.0)),
                      template_floor=int(meta.get("template_floor", 0)),
                      _ident_order=arrays["ident_order"],
                      _node_order=arrays["node_order"])  # fmt: skip
