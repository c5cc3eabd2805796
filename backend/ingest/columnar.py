"""Usage events folded column-wise: the bulk backfill's fast path.

Usage is most of a platform's history (the `full` preset: ~40M of ~45M events), and per event
the general path costs ~140 µs of CPU in a backfill worker: pydantic validation, the fold's
dictionaries, then cutting the fold into parts and merging it again (measured on the `full`
seed's usage lines). Here a usage line costs a JSON parse and one pass of plain checks, and
the fold is numpy over whole parts.

The rules stay where they are. `accept` is a *subset* of the contract: it takes a line only
when every field is of a plain, common form (`occurred_at` as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`
with `Z` or an offset; integers below 2^31; no bool where a number is due, ...) that
`backend.events.contract.UsageEvent` and the normaliser accept with the same values, and
returns None for everything else, which goes through `validate` and `plan.Fold` as before (so
every rejection is still worded in one place). `fold_rows` is `Fold._usage` and `Fold.ip` on
columns. Unit tests hold both to that: on random lines, valid and broken, whatever `accept`
takes `validate` takes, and the two folds are equal.

The fold is split the way `Fold.split_state` splits a fold: what is keyed by an identifier
(enrichment, IP structure, the identifier nodes) goes into the chunk's `Fold` (`node_state`)
and travels with it; what is keyed by an account (lifetime, counters, links: nearly all the
rows) travels as columns to the account's part (`split_rows`) and is folded there, once per
part, by `fold_columns`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.events.contract import CAPABILITIES, IpKind, check_ip_address
from backend.graph.model import LINKS
from backend.ingest.plan import COUNTER_INDEX, COUNTERS, MS_PER_HOUR, Fold, merge_span, part_of
from backend.normalise import identifiers as ids

# Bounds the fast path takes; larger values go the general path, which takes any the contract
# does. 2^31 keeps every per-part sum far inside int64.
_MAX_INT = 1 << 31
_MAX_ASN = 1 << 32
_ID_MAX, _TEXT_MAX = 128, 4096
# Full match, as the contract's (Rust) patterns are: Python's `$` would let a trailing "\n" in.
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3}|\.\d{6})?(?:Z|[+-][01]\d:[0-5]\d)"
)
_COUNTRY = re.compile(r"[A-Z]{2}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{16}")
_IP_KINDS = {kind.value: kind.value for kind in IpKind}
_CAPABILITY = {name: i for i, name in enumerate(CAPABILITIES)}

# A row: what the fold reads of one accepted usage event, normalised.
EVENT_ID, ACCOUNT, T, DAY = 0, 1, 2, 3
(MODEL, TOKENS_IN, TOKENS_OUT, COT, TOOLS, CAPABILITY, ADDRESS, SUBNET, VERSION, ASN, ORG,
 IP_COUNTRY, IP_KIND, PROXY_RAW, PROXY, CLIENT, SIGNATURE) = range(4, 21)  # fmt: skip
# Columns a part folds (account-keyed); the rest stays in the chunk.
COLUMNS = (ACCOUNT, T, MODEL, TOKENS_IN, TOKENS_OUT, COT, TOOLS, CAPABILITY, ADDRESS, SUBNET,
           ASN, PROXY, CLIENT, SIGNATURE)  # fmt: skip
_NUMERIC = frozenset({T, TOKENS_IN, TOKENS_OUT, COT, TOOLS, CAPABILITY})
_LINK_COLUMNS = {
    "USED_IP": ADDRESS, "USED_SUBNET": SUBNET, "USED_ASN": ASN, "VIA_PROXY": PROXY,
    "USED_MODEL": MODEL, "USED_CLIENT": CLIENT,
}  # fmt: skip

Row = tuple[Any, ...]
Columns = dict[int, Any]


@lru_cache(maxsize=262144)
def _ip(value: str) -> ids.IpKey | None:
    try:
        check_ip_address(value)
        return ids.normalise_ip(value)
    except (ValueError, ids.NormalisationError):
        return None


@lru_cache(maxsize=65536)
def _token(value: str) -> str | None:
    try:
        return ids.normalise_token(value)
    except ids.NormalisationError:
        return None


def _int(value: Any, limit: int = _MAX_INT) -> bool:
    return type(value) is int and 0 <= value < limit


def _text(value: Any) -> bool:
    return value is None or (type(value) is str and len(value) <= _TEXT_MAX)


def accept(event: dict[str, Any]) -> Row | None:
    """One parsed usage line → its row, or None to send it the general way (see the module)."""
    get = event.get
    event_id, account, model = get("event_id"), get("account_id"), get("model")
    when = get("occurred_at")
    if not (
        type(event_id) is str and 0 < len(event_id) <= _ID_MAX
        and type(account) is str and 0 < len(account) <= _ID_MAX
        and type(model) is str and 0 < len(model) <= _ID_MAX
        and type(when) is str and _INSTANT.fullmatch(when)
    ):  # fmt: skip
        return None
    tokens_in, tokens_out, tools = get("input_tokens"), get("output_tokens"), get("tool_calls")
    if not (_int(tokens_in) and _int(tokens_out) and (tools is None or _int(tools))):
        return None
    cot, capability = get("cot_elicitation"), get("capability")
    signature = get("prompt_signature")
    if not (
        (cot is None or type(cot) is bool)
        and (capability is None or (type(capability) is str and capability in _CAPABILITY))
        and (signature is None or (type(signature) is str and _SIGNATURE.fullmatch(signature)))
        and _text(get("api_key_id"))
    ):  # fmt: skip
        return None
    client = get("client_fingerprint")
    if not _text(client):
        return None
    client_key = None
    if client:
        client_key = _token(client)
        if client_key is None:
            return None
    ip, asn, org, country = get("ip"), get("ip_asn"), get("ip_org"), get("ip_country")
    kind, proxy_raw = get("ip_kind"), get("proxy_provider")
    if not (
        (asn is None or _int(asn, _MAX_ASN)) and _text(org) and _text(proxy_raw)
        and (country is None or (type(country) is str and _COUNTRY.fullmatch(country)))
        and (kind is None or (type(kind) is str and kind in _IP_KINDS))
    ):  # fmt: skip
        return None
    address = subnet = version = None
    if ip is not None:
        key = _ip(ip) if type(ip) is str else None
        if key is None:
            return None
        address, subnet, version = key.address, key.subnet, key.version
    try:
        instant = datetime.fromisoformat(when)
    except ValueError:
        return None
    return (
        event_id, account, int(instant.timestamp() * 1000),
        f"{instant.year:04d}{instant.month:02d}{instant.day:02d}",
        ids.model_key(model), tokens_in, tokens_out, 1 if cot else 0, tools or 0,
        -1 if capability is None else _CAPABILITY[capability],
        address, subnet, version, ids.asn_key(asn) if asn is not None and address else None,
        org, country, kind, proxy_raw,
        ids.proxy_key(proxy_raw) if proxy_raw and address else None,
        client_key, signature.lower() if signature else None,
    )  # fmt: skip


def node_state(rows: list[Row], into: Fold) -> None:
    """The identifier-keyed part of the rows' fold, into `into` (a chunk's `Fold`)."""
    latest: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for row in rows:
        address = row[ADDRESS]
        if address is None:
            continue
        asn, proxy_raw, org = row[ASN], row[PROXY_RAW], row[ORG]
        country, kind = row[IP_COUNTRY], row[IP_KIND]
        into.ip_structure.add((address, row[SUBNET], row[VERSION], asn, row[PROXY]))
        # `Fold.ip`: the latest event carrying any enrichment sets the IP's (and, with an
        # organisation, the ASN's) properties.
        if asn is None and org is None and country is None and kind is None and proxy_raw is None:
            continue
        st = f"{row[T]:013d}|{row[EVENT_ID]}"
        current = latest.get(("IP", address))
        if current is None or st > current[0]:
            asn_number = int(asn[2:]) if asn is not None else None
            latest[("IP", address)] = (st, {
                "asn": asn_number, "org": org, "country": country, "kind": kind,
                "proxy_provider": proxy_raw,
            })  # fmt: skip
        if asn is not None and org is not None:
            current = latest.get(("ASN", asn))
            if current is None or st > current[0]:
                latest[("ASN", asn)] = (st, {"org": org})
    for (label, key), (st, props) in latest.items():
        into.set_props(label, key, st, props)
    into.targets.update(("Model", row[MODEL]) for row in rows)
    into.targets.update(("ClientFingerprint", row[CLIENT]) for row in rows if row[CLIENT])
    for signature in {row[SIGNATURE] for row in rows if row[SIGNATURE]}:
        into.targets.update(("PromptTemplateBand", band) for band in ids.prompt_bands(signature))


def split_rows(rows: list[Row], parts: int) -> dict[int, Columns]:
    """The account-keyed columns of `rows`, cut by the account's part."""
    if not rows:
        return {}
    part = np.fromiter((part_of(row[ACCOUNT], parts) for row in rows), np.int64, len(rows))
    order = np.argsort(part, kind="stable")
    bounds = np.flatnonzero(np.diff(part[order])) + 1
    columns: Columns = {}
    for column in COLUMNS:
        values = [row[column] for row in rows]
        if column in _NUMERIC:
            columns[column] = np.asarray(values, dtype=np.int64)[order]
        else:
            array = np.empty(len(values), dtype=object)
            array[:] = values
            columns[column] = array[order]
    out: dict[int, Columns] = {}
    for piece in np.split(np.arange(len(rows)), bounds):
        out[int(part[order[piece[0]]])] = {c: values[piece] for c, values in columns.items()}
    return out


def concat(pieces: list[Columns]) -> Columns:
    return {c: np.concatenate([piece[c] for piece in pieces]) for c in COLUMNS}


def _codes(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Factorise: each value's index among the distinct values (in first-seen order)."""
    index: dict[Any, int] = {}
    setdefault = index.setdefault
    codes = np.fromiter((setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, list(index)


def _groups(
    key: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Sort order, group starts and each group's key: what `reduceat` needs."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts, ordered[starts]


def fold_columns(columns: Columns, into: Fold) -> int:
    """`Fold._usage`'s account-keyed effect of one part's usage rows, merged into `into`;
    returns the number of events."""
    n = len(columns[T])
    if not n:
        return 0
    account, accounts = _codes(columns[ACCOUNT])
    t = columns[T]
    order, starts, group = _groups(account)
    t_sorted = t[order]
    first = np.minimum.reduceat(t_sorted, starts)
    last = np.maximum.reduceat(t_sorted, starts)
    count = np.diff(np.r_[starts, n])
    counters = np.zeros((len(group), len(COUNTERS)), dtype=np.int64)
    counters[:, COUNTER_INDEX["exchanges"]] = count
    for name, column in (("tokens_in", TOKENS_IN), ("tokens_out", TOKENS_OUT),
                         ("cot_elicitations", COT), ("tool_calls", TOOLS)):  # fmt: skip
        counters[:, COUNTER_INDEX[name]] = np.add.reduceat(columns[column][order], starts)
    capability = columns[CAPABILITY]
    has = capability >= 0
    kinds = len(CAPABILITIES)
    by_capability = np.bincount(
        account[has] * kinds + capability[has], minlength=len(accounts) * kinds
    ).reshape(len(accounts), kinds)[group]
    for i, name in enumerate(CAPABILITIES):
        counters[:, COUNTER_INDEX[f"cap_{name}"]] = by_capability[:, i]
    hours = np.bincount(
        account * 24 + (t // MS_PER_HOUR) % 24, minlength=len(accounts) * 24
    ).reshape(len(accounts), 24)[group]
    for a, c, f, l_, counter, hour in zip(
        group.tolist(), count.tolist(), first.tolist(), last.tolist(), counters.tolist(),
        hours.tolist(), strict=True,
    ):  # fmt: skip
        name = accounts[a]
        merge_span(into.accounts, name, c, f, l_)
        usage = into.counters[name]
        usage.counters = [x + y for x, y in zip(usage.counters, counter, strict=True)]
        usage.hours = [x + y for x, y in zip(usage.hours, hour, strict=True)]
    for rel, column in _LINK_COLUMNS.items():
        values = columns[column]
        present = np.flatnonzero(values != None)  # noqa: E711 (element-wise, on objects)
        _links(into, rel, account[present], accounts, values[present], t[present])
    signatures = columns[SIGNATURE]
    present = np.flatnonzero(signatures != None)  # noqa: E711
    if len(present):
        signature, distinct = _codes(signatures[present])
        flat = np.array([b for s in distinct for b in ids.prompt_bands(s)], dtype=object)
        band, bands = _codes(flat)
        band_of = band.reshape(len(distinct), ids.LSH_BANDS)[signature].ravel()
        _links(
            into, "USED_TEMPLATE", np.repeat(account[present], ids.LSH_BANDS), accounts,
            np.array(bands, dtype=object)[band_of], np.repeat(t[present], ids.LSH_BANDS),
        )  # fmt: skip
    into.events += n
    return n


def _links(
    into: Fold, rel: str, account: npt.NDArray[np.int64], accounts: list[Any],
    keys: npt.NDArray[Any], t: npt.NDArray[np.int64],
) -> None:  # fmt: skip
    if not len(account):
        return
    key, distinct = _codes(keys)
    order, starts, group = _groups(account * len(distinct) + key)
    t_sorted = t[order]
    first = np.minimum.reduceat(t_sorted, starts)
    last = np.maximum.reduceat(t_sorted, starts)
    count = np.diff(np.r_[starts, len(account)])
    links = into.links
    width = len(distinct)
    spans = zip(group.tolist(), count.tolist(), first.tolist(), last.tolist(), strict=True)
    for g, c, f, l_ in spans:
        merge_span(links, (rel, accounts[g // width], distinct[g % width]), c, f, l_)


assert set(_LINK_COLUMNS) | {"USED_TEMPLATE"} <= set(LINKS)
