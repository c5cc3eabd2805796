"""Usage, session and billing events folded column-wise: the bulk backfill's fast path.

These three are nearly all of a platform's history (the `full` preset: all but ~1M signups of
its ~32M events), and per event the general path costs ~70-140 µs of CPU in a backfill worker:
pydantic validation, the fold's dictionaries, then cutting the fold into parts and merging it
again (profiled on the `medium` and `full` seeds). Here a line is decoded and checked against
the subset's types in one compiled pass (msgspec), and the fold is numpy over whole parts.

The rules stay where they are. `accept` is a *subset* of the contract: it takes a line only
when every field is of a plain, common form (`occurred_at` as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`
with `Z` or an offset; integers below 2^31; no bool where a number is due, ...) that
`backend.events.contract` and the normaliser accept with the same values, and returns None for
everything else (signups and model releases included), which goes through `validate` and
`plan.Fold` as before, so every rejection is still worded in one place. `fold_columns` and
`node_state` are `Fold.add` on columns. Unit tests hold both to that: on random lines, valid and
broken, whatever `accept` takes `validate` takes, and the two folds are equal.

The fold is split the way `Fold.split_state` splits a fold: what is keyed by an identifier
(enrichment, IP structure, the identifier nodes) goes into the chunk's `Fold` (`node_state`)
and travels with it; what is keyed by an account (lifetime, counters, links: nearly all the
rows) travels as columns to the account's part (`split_rows`) and is folded there, once per
part, by `fold_columns`. A part's links stay columns to the end (`LinkTable`): grouped with
the general path's, and written to the importer's files, without a Python step per link.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from string import ascii_uppercase
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt

from backend.events.contract import (
    CAPABILITIES,
    BillingStatus,
    CardFunding,
    IpKind,
    PaymentKind,
    check_ip_address,
)
from backend.graph.model import LINKS
from backend.ingest.plan import COUNTER_INDEX, COUNTERS, MS_PER_HOUR, Fold, merge_span, part_of
from backend.normalise import identifiers as ids

# Bounds the fast path takes; larger values go the general path, which takes any the contract
# does. 2^31 keeps every per-part sum far inside int64.
_MAX_INT = 1 << 31
_MAX_ASN = 1 << 32
_ID_MAX, _TEXT_MAX = 128, 4096
# Matched whole, as the contract's (Rust) patterns are (`_full`). `[0-9]`, not `\d`, which in
# Python matches any script's digits.
_INSTANT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6})?"
    r"(?:Z|[+-][01][0-9]:[0-5][0-9])"
)
_CAPABILITY = {name: i for i, name in enumerate(CAPABILITIES)}
_STATUS = {status.value: i for i, status in enumerate(BillingStatus)}
SUCCEEDED, FAILED, REFUNDED, DISPUTED = (_STATUS[s.value] for s in BillingStatus)
USAGE, SESSION, BILLING = 0, 1, 2

# A row: what the fold reads of one accepted event, normalised; what a type does not carry is
# None (or 0, or -1 for a code).
(EVENT_ID, ACCOUNT, T, DAY, KIND,
 ADDRESS, SUBNET, VERSION, ASN, ORG, IP_COUNTRY, IP_KIND, PROXY_RAW, PROXY,
 MODEL, TOKENS_IN, TOKENS_OUT, COT, TOOLS, CAPABILITY, CLIENT, SIGNATURE,
 DEVICE,
 STATUS, AMOUNT, PAYMENT, PAYMENT_PROPS, BILLED, BILLED_PROPS) = range(29)  # fmt: skip
# Columns a part folds (account-keyed); the rest stays in the chunk.
COLUMNS = (
    ACCOUNT, T, KIND, ADDRESS, SUBNET, ASN, PROXY, MODEL, TOKENS_IN, TOKENS_OUT, COT, TOOLS,
    CAPABILITY, CLIENT, SIGNATURE, DEVICE, STATUS, AMOUNT, PAYMENT, BILLED,
)  # fmt: skip
_NUMERIC = frozenset({T, KIND, TOKENS_IN, TOKENS_OUT, COT, TOOLS, CAPABILITY, STATUS, AMOUNT})
_LINK_COLUMNS = {
    "USED_IP": ADDRESS, "USED_SUBNET": SUBNET, "USED_ASN": ASN, "VIA_PROXY": PROXY,
    "USED_MODEL": MODEL, "USED_CLIENT": CLIENT, "USED_DEVICE": DEVICE, "PAID_WITH": PAYMENT,
    "BILLED_TO": BILLED,
}  # fmt: skip
# Identifier nodes only these columns' links create (IPs, subnets, ASNs and providers come with
# the IP structure).
_TARGETS = {column: LINKS[rel] for rel, column in _LINK_COLUMNS.items()
            if column in (MODEL, CLIENT, DEVICE, PAYMENT, BILLED)}  # fmt: skip

Row = tuple[Any, ...]
Columns = dict[int, Any]
_NO_IP: tuple[Any, ...] = (None,) * 9
_NO_USAGE: tuple[Any, ...] = (None, 0, 0, 0, 0, -1, None, None)
_NO_BILLING: tuple[Any, ...] = (-1, 0, None, None, None, None)


@lru_cache(maxsize=262144)
def _ip(value: str) -> ids.IpKey | None:
    try:
        check_ip_address(value)
        return ids.normalise_ip(value)
    except (ValueError, ids.NormalisationError):
        return None


@lru_cache(maxsize=262144)
def _token(value: str) -> str | None:
    try:
        return ids.normalise_token(value)
    except ids.NormalisationError:
        return None


# The fast path's subset of the contract, as types a compiled decoder checks while it parses
# (msgspec). A pattern is a full match (`\A...\Z`: `$` would let a trailing "\n" in); lengths
# count code points, as `len` does; an int is never a bool or a float; a field given twice
# takes its last value, as `orjson` and pydantic do (`type` given twice goes the general way).
# Names from a closed set (an enum's values, countries) are `Literal`s, looked up in C: a
# pattern there is a Python `re` call, and on the fields every usage line carries those cost
# more than the parse (docs/benchmarks.md, "The fast path's parse as typed structs").
def _full(pattern: str) -> msgspec.Meta:
    return msgspec.Meta(pattern=rf"\A(?:{pattern})\Z")


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=_ID_MAX)]
_Text = Annotated[str, msgspec.Meta(max_length=_TEXT_MAX)]
_Int = Annotated[int, msgspec.Meta(ge=0, lt=_MAX_INT)]
_Asn = Annotated[int, msgspec.Meta(ge=0, lt=_MAX_ASN)]
_Instant = Annotated[str, _full(_INSTANT)]
_Hex16 = Annotated[str, msgspec.Meta(min_length=16, max_length=16)]  # and `_HEX` (`_usage`)
_Currency = Annotated[str, _full(r"[A-Z]{3}")]
_CardBin = Annotated[str, _full(r"[0-9]{6,8}")]
_CardLast4 = Annotated[str, _full(r"[0-9]{4}")]
_HEX = "0123456789abcdefABCDEF"
if TYPE_CHECKING:  # built from the enums at run time; mypy reads a dynamic `Literal` as none
    _Country: TypeAlias = str
    _IpKind: TypeAlias = str
    _Capability: TypeAlias = str
    _PaymentKind: TypeAlias = str
    _Funding: TypeAlias = str
    _Status: TypeAlias = str
else:
    _Country = Literal[tuple(a + b for a in ascii_uppercase for b in ascii_uppercase)]
    _IpKind = Literal[tuple(kind.value for kind in IpKind)]
    _Capability = Literal[CAPABILITIES]
    _PaymentKind = Literal[tuple(kind.value for kind in PaymentKind)]
    _Funding = Literal[tuple(kind.value for kind in CardFunding)]
    _Status = Literal[tuple(status.value for status in BillingStatus)]


# Untracked by the garbage collector (`gc=False`): they hold text and numbers, never a cycle,
# and two million of them a minute are made and freed.
class _Line(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    event_id: _Id
    account_id: _Id
    occurred_at: _Instant
    ip: str | None = None  # checked and keyed by `_ip`
    ip_asn: _Asn | None = None
    ip_org: _Text | None = None
    ip_country: _Country | None = None
    ip_kind: _IpKind | None = None
    proxy_provider: _Text | None = None


class _Usage(_Line, tag="usage", kw_only=True):
    model: _Id
    input_tokens: _Int
    output_tokens: _Int
    tool_calls: _Int | None = None
    cot_elicitation: bool | None = None
    capability: _Capability | None = None
    prompt_signature: _Hex16 | None = None
    api_key_id: _Text | None = None
    client_fingerprint: _Text | None = None


class _Session(_Line, tag="session", kw_only=True):
    user_agent: _Text | None = None
    device_id: _Text | None = None
    api_key_id: _Text | None = None


class _Billing(_Line, tag="billing", kw_only=True):
    payment_fingerprint: _Id
    payment_kind: _PaymentKind | None = None
    card_bin: _CardBin | None = None
    card_last4: _CardLast4 | None = None
    card_funding: _Funding | None = None
    card_country: _Country | None = None
    billing_country: _Country | None = None
    billing_postal: _Text | None = None
    billing_address_hash: _Text | None = None
    amount_minor: _Int | None = None
    currency: _Currency | None = None
    status: _Status | None = None


_DECODER = msgspec.json.Decoder(_Usage | _Session | _Billing)


def accept(text: str) -> Row | None:
    """One line → its row, or None to send it the general way (see the module)."""
    try:
        line = _DECODER.decode(text)
    # Malformed JSON, another type, or a field out of the subset; nesting deeper than the
    # decoder's stack (in a field the fast path does not read); text with a lone surrogate.
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    when = line.occurred_at
    place = _place(line, required=type(line) is _Session)
    if place is None:
        return None
    usage, device, billing = _NO_USAGE, None, _NO_BILLING
    if type(line) is _Usage:
        kind = USAGE
        usage = _usage(line)  # type: ignore[assignment]
        if usage is None:
            return None
    elif type(line) is _Session:
        kind = SESSION
        if line.device_id:
            device = _token(line.device_id)
            if device is None:
                return None
    else:
        kind = BILLING
        billing = _billing(line)  # type: ignore[assignment]
        if billing is None:
            return None
    try:
        instant = datetime.fromisoformat(when)
    except ValueError:
        return None
    # The event's own calendar day (`service.claim_key`): the date as written.
    day = when[0:4] + when[5:7] + when[8:10]
    return (line.event_id, line.account_id, int(instant.timestamp() * 1000), day, kind,
            *place, *usage, device, *billing)  # fmt: skip


def _place(line: _Line, required: bool) -> tuple[Any, ...] | None:
    """`ip` and its enrichment, as `Fold.ip` keys them."""
    ip = line.ip
    if ip is None:
        return None if required else _NO_IP
    key = _ip(ip)
    if key is None:
        return None
    asn, kind, proxy_raw = line.ip_asn, line.ip_kind, line.proxy_provider
    return (
        key.address, key.subnet, key.version, None if asn is None else ids.asn_key(asn),
        line.ip_org, line.ip_country, kind, proxy_raw,
        ids.proxy_key(proxy_raw) if proxy_raw else None,
    )  # fmt: skip


def _usage(line: _Usage) -> tuple[Any, ...] | None:
    client, signature, capability = line.client_fingerprint, line.prompt_signature, line.capability
    if signature is not None and signature.strip(_HEX):
        return None
    client_key = None
    if client:
        client_key = _token(client)
        if client_key is None:
            return None
    return (
        ids.model_key(line.model), line.input_tokens, line.output_tokens,
        1 if line.cot_elicitation else 0, line.tool_calls or 0,
        -1 if capability is None else _CAPABILITY[capability], client_key,
        signature.lower() if signature else None,
    )  # fmt: skip


def _billing(line: _Billing) -> tuple[Any, ...] | None:
    payment_key = _token(line.payment_fingerprint)
    if payment_key is None:
        return None
    address, amount, status = line.billing_address_hash, line.amount_minor, line.status
    address_key = None
    if address:
        address_key = _token(address)
        if address_key is None:
            return None
    code = SUCCEEDED if status is None else _STATUS[status]
    kind, funding = line.payment_kind, line.card_funding
    return (
        code, amount if amount and code != FAILED else 0, payment_key,
        {"kind": kind, "bin": line.card_bin, "last4": line.card_last4, "funding": funding,
         "card_country": line.card_country, "billing_country": line.billing_country},
        address_key,
        {"country": line.billing_country, "postal": line.billing_postal} if address_key else None,
    )  # fmt: skip


# Stamps (`plan.stamp`: 13 zero-padded digits of epoch ms, then the event id) order as their
# times do for times in [1970, 2286); rows outside it are stamped and compared one by one.
_STAMPED_TIMES = (0, 10**13)


def transpose(rows: list[Row]) -> list[npt.NDArray[Any]]:
    """The rows as columns (object arrays), one transposition in C for all that reads them."""
    return [_objects(column) for column in zip(*rows, strict=True)] if rows else []


def node_state(rows: list[Row], columns: list[npt.NDArray[Any]], into: Fold) -> None:
    """The identifier-keyed part of the rows' fold, into `into` (a chunk's `Fold`);
    `columns` is `transpose(rows)`."""
    # Per node: (stamp, -row, properties); of two rows with one stamp the first wins, as in
    # `Fold.add` row after row.
    latest: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}

    def keep(label: str, key: str, st: str, row: int, props: dict[str, Any]) -> None:
        if all(value is None for value in props.values()):
            return  # `Fold.set_props`: an event carrying none keeps what was there
        current = latest.get((label, key))
        if current is None or (st, -row) > current[:2]:
            latest[(label, key)] = (st, -row, props)

    if not rows:
        return
    t = columns[T].astype(np.int64)
    one_by_one = (columns[KIND] == BILLING) | (t < _STAMPED_TIMES[0]) | (t >= _STAMPED_TIMES[1])
    for i in np.flatnonzero(one_by_one).tolist():
        _node_state_of(rows[i], i, keep)
    has_ip = columns[ADDRESS] != None  # noqa: E711 (element-wise, on objects)
    into.ip_structure.update(zip(*(
        columns[c][has_ip].tolist() for c in (ADDRESS, SUBNET, VERSION, ASN, PROXY)
    ), strict=True))  # fmt: skip
    # `Fold.ip`: the latest event carrying any of the IP's properties sets them all (and, with
    # an organisation, the ASN's), found per key by sorting, not row by row.
    enriched = has_ip & ~one_by_one & np.logical_or.reduce(
        [columns[c] != None for c in (ASN, ORG, IP_COUNTRY, IP_KIND, PROXY_RAW)]  # noqa: E711
    )  # fmt: skip
    _, event_rank = np.unique(columns[EVENT_ID], return_inverse=True)
    index = np.arange(len(rows))
    ranked = np.empty(len(rows), np.int64)
    ranked[np.lexsort((-index, event_rank, t))] = index
    for i in _latest(columns[ADDRESS], ranked, enriched).tolist():
        asn = columns[ASN][i]
        keep("IP", columns[ADDRESS][i], f"{t[i]:013d}|{columns[EVENT_ID][i]}", i, {
            "asn": None if asn is None else int(asn[2:]), "org": columns[ORG][i],
            "country": columns[IP_COUNTRY][i], "kind": columns[IP_KIND][i],
            "proxy_provider": columns[PROXY_RAW][i],
        })  # fmt: skip
    named = enriched & (columns[ASN] != None) & (columns[ORG] != None)  # noqa: E711
    for i in _latest(columns[ASN], ranked, named).tolist():
        st = f"{t[i]:013d}|{columns[EVENT_ID][i]}"
        keep("ASN", columns[ASN][i], st, i, {"org": columns[ORG][i]})
    for (label, key), (st, _, props) in latest.items():
        into.set_props(label, key, st, props)
    for column, label in _TARGETS.items():
        values = set(columns[column].tolist())
        values.discard(None)
        into.targets.update((label, value) for value in values)
    signatures = columns[SIGNATURE][columns[SIGNATURE] != None]  # noqa: E711
    bands = band_text()[np.unique(band_ids(signatures))].tolist()
    into.targets.update(zip(["PromptTemplateBand"] * len(bands), bands, strict=True))


def _node_state_of(
    row: Row, i: int, keep: Callable[[str, str, str, int, dict[str, Any]], None]
) -> None:
    """One row's node properties, its stamp compared as text (`Fold._billing`, `Fold.ip`)."""
    st = f"{row[T]:013d}|{row[EVENT_ID]}"
    if row[KIND] == BILLING:
        keep("PaymentMethod", row[PAYMENT], st, i, row[PAYMENT_PROPS])
        if row[BILLED] is not None:
            keep("BillingAddress", row[BILLED], st, i, row[BILLED_PROPS])
    address = row[ADDRESS]
    if address is None:
        return
    asn, org = row[ASN], row[ORG]
    keep("IP", address, st, i, {
        "asn": None if asn is None else int(asn[2:]), "org": org, "country": row[IP_COUNTRY],
        "kind": row[IP_KIND], "proxy_provider": row[PROXY_RAW],
    })  # fmt: skip
    if asn is not None and org is not None:
        keep("ASN", asn, st, i, {"org": org})


def _latest(
    keys: npt.NDArray[Any], ranked: npt.NDArray[np.int64], among: npt.NDArray[np.bool_]
) -> npt.NDArray[np.intp]:
    """Of the rows `among`, the latest (highest `ranked`) of each key: their indices."""
    rows = np.flatnonzero(among)
    if not len(rows):
        return rows
    key, _ = _codes(keys[rows])
    order = np.lexsort((ranked[rows], key))
    last = np.r_[key[order][1:] != key[order][:-1], True]
    return rows[order[last]]


# A template band is one of `LSH_BANDS` runs of `_BAND_DIGITS` hex digits of the signature,
# so there are only `LSH_BANDS` x 16^`_BAND_DIGITS` of them (262,144): numbered from the
# digits in numpy and named from one table, instead of `prompt_bands` per signature (~9 µs
# each, and a chunk of `full` lines holds ~13,000 distinct signatures).
_BAND_DIGITS = ids.LSH_BAND_BITS // 4
_HEX_VALUE = np.zeros(128, np.int64)
for _value, _digit in enumerate("0123456789abcdef"):
    _HEX_VALUE[ord(_digit)] = _HEX_VALUE[ord(_digit.upper())] = _value


def band_ids(signatures: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Each signature's bands (rows) as numbers into `band_text()`; the signatures are
    16 hex digits, as `accept` takes them."""
    n = len(signatures)
    points = np.array(signatures.tolist(), dtype=f"U{ids.LSH_BANDS * _BAND_DIGITS}")
    digits = _HEX_VALUE[points.view(np.uint32).reshape(n, ids.LSH_BANDS, _BAND_DIGITS)]
    values = digits @ (16 ** np.arange(_BAND_DIGITS - 1, -1, -1, dtype=np.int64))
    return values + np.arange(ids.LSH_BANDS, dtype=np.int64) * 16**_BAND_DIGITS  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def band_text() -> npt.NDArray[np.object_]:
    """Every band's key, by number, as `prompt_bands` writes it (~0.4 s, once a process)."""
    table = np.empty((ids.LSH_BANDS, 16**_BAND_DIGITS), dtype=object)
    for value in range(16**_BAND_DIGITS):
        table[:, value] = ids.prompt_bands.__wrapped__(f"{value:0{_BAND_DIGITS}x}" * ids.LSH_BANDS)
    return table.ravel()


@lru_cache(maxsize=1)
def band_numbers() -> dict[str, int]:
    """`band_text` inverted: the general path's spans name their bands, the link table
    numbers them (`LinkTable.add_fold`)."""
    return {band: number for number, band in enumerate(band_text().tolist())}


def split_rows(columns: list[npt.NDArray[Any]], parts: int) -> dict[int, Columns]:
    """The account-keyed columns (of `transpose(rows)`), cut by the account's part."""
    if not columns:
        return {}
    accounts = columns[ACCOUNT].tolist()
    part = np.fromiter(map(part_of, accounts, [parts] * len(accounts)), np.int64, len(accounts))
    order = np.argsort(part, kind="stable")
    bounds = np.flatnonzero(np.diff(part[order])) + 1
    kept: Columns = {
        c: (columns[c].astype(np.int64) if c in _NUMERIC else columns[c])[order] for c in COLUMNS
    }
    out: dict[int, Columns] = {}
    for piece in np.split(np.arange(len(order)), bounds):
        out[int(part[order[piece[0]]])] = {c: values[piece] for c, values in kept.items()}
    return out


def concat(pieces: list[Columns]) -> Columns:
    return {c: np.concatenate([piece[c] for piece in pieces]) for c in COLUMNS}


def _codes(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Factorise: each value's index among the distinct values (in first-seen order)."""
    distinct = list(dict.fromkeys(values.tolist()))  # C loops, ~3x a Python one per value
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    return np.fromiter(map(index.__getitem__, values.tolist()), np.int64, len(values)), distinct


def _groups(
    key: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Sort order, group starts and each group's key: what `reduceat` needs."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts, ordered[starts]


def fold_columns(columns: Columns, into: Fold, links: LinkTable) -> int:
    """`Fold.add`'s account-keyed effect of one part's rows: lifetimes and counters merged
    into `into`, links added to `links`; returns the number of events."""
    n = len(columns[T])
    if not n:
        return 0
    account, accounts = _codes(columns[ACCOUNT])
    t, kind = columns[T], columns[KIND]
    order, starts, group = _groups(account)
    t_sorted = t[order]
    first = np.minimum.reduceat(t_sorted, starts)
    last = np.maximum.reduceat(t_sorted, starts)
    count = np.diff(np.r_[starts, n])

    def total(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        return np.add.reduceat(values.astype(np.int64)[order], starts)

    counters = np.zeros((len(group), len(COUNTERS)), dtype=np.int64)
    status = columns[STATUS]
    for name, values in (
        ("sessions", kind == SESSION), ("charges", kind == BILLING),
        ("charges_failed", status == FAILED), ("charges_refunded", status == REFUNDED),
        ("charges_disputed", status == DISPUTED), ("amount_minor", columns[AMOUNT]),
        ("exchanges", kind == USAGE), ("tokens_in", columns[TOKENS_IN]),
        ("tokens_out", columns[TOKENS_OUT]), ("cot_elicitations", columns[COT]),
        ("tool_calls", columns[TOOLS]),
    ):  # fmt: skip
        counters[:, COUNTER_INDEX[name]] = total(values)
    capability = columns[CAPABILITY]
    has = capability >= 0
    kinds = len(CAPABILITIES)
    by_capability = np.bincount(
        account[has] * kinds + capability[has], minlength=len(accounts) * kinds
    ).reshape(len(accounts), kinds)[group]
    for i, name in enumerate(CAPABILITIES):
        counters[:, COUNTER_INDEX[f"cap_{name}"]] = by_capability[:, i]
    used = kind == USAGE
    hours = np.bincount(
        account[used] * 24 + (t[used] // MS_PER_HOUR) % 24, minlength=len(accounts) * 24
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
    names = columns[ACCOUNT]
    for rel, column in _LINK_COLUMNS.items():
        values = columns[column]
        present = np.flatnonzero(values != None)  # noqa: E711 (element-wise, on objects)
        links.add(rel, names[present], values[present], t[present])
    signatures = columns[SIGNATURE]
    present = np.flatnonzero(signatures != None)  # noqa: E711
    if len(present):
        bands = band_ids(signatures[present]).ravel()
        links.add(
            "USED_TEMPLATE", np.repeat(names[present], ids.LSH_BANDS), bands,
            np.repeat(t[present], ids.LSH_BANDS),
        )  # fmt: skip
    into.events += n
    return n


@dataclass
class LinkRows:
    """One relationship type's links, a row per (account, identifier): what `Fold.links`
    holds for the type, as columns, so a part's tens of thousands of links are grouped and
    written to the importer's files without a Python step per link."""

    account: npt.NDArray[np.object_]
    key: npt.NDArray[Any]  # keys' text; in a `LinkTable`, band numbers for `USED_TEMPLATE`
    n: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.n)

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> LinkRows:
        """A write plan's rows of one type (`WritePlan.links`, already one per pair)."""
        return cls(
            _objects([row["account"] for row in rows]), _objects([row["key"] for row in rows]),
            *(np.array([row[name] for row in rows], np.int64) for name in ("n", "first", "last")),
        )  # fmt: skip


class LinkTable:
    """A part's links as they come (one row per event and link, or a fold's spans), grouped
    once at the end (`rows`): `merge_span`'s sum, min and max, over whole arrays.

    Template bands travel as their numbers (`band_ids`) and are named only once grouped: a
    part holds ~600,000 band rows at the `full` preset, over most of the 262,144 bands, and
    factorising that many distinct strings cost more than the rest of the grouping."""

    def __init__(self) -> None:
        self._pieces: dict[str, list[LinkRows]] = defaultdict(list)

    def add(
        self, rel: str, account: npt.NDArray[Any], key: npt.NDArray[Any],
        t: npt.NDArray[np.int64],
    ) -> None:  # fmt: skip
        """One row per event: a count of one, first and last seen at `t` (`key`: the
        identifiers' keys, or band numbers for `USED_TEMPLATE`)."""
        if len(t):
            self._pieces[rel].append(LinkRows(account, key, np.ones(len(t), np.int64), t, t))

    def add_fold(self, links: dict[tuple[str, str, str], list[int]]) -> None:
        """`Fold.links` (the general path's spans)."""
        by_rel: dict[str, list[tuple[str, str, int, int, int]]] = defaultdict(list)
        for (rel, account, key), (n, first, last) in links.items():
            by_rel[rel].append((account, key, n, first, last))
        for rel, spans in by_rel.items():
            columns = list(zip(*spans, strict=True))
            keys: npt.NDArray[Any] = _objects(columns[1])
            if rel == "USED_TEMPLATE":
                keys = np.fromiter(map(band_numbers().__getitem__, columns[1]), np.int64)
            self._pieces[rel].append(LinkRows(
                _objects(columns[0]), keys,
                *(np.array(values, np.int64) for values in columns[2:]),
            ))  # fmt: skip

    def rows(self) -> dict[str, LinkRows]:
        """Each type's links, one row per (account, identifier), in account order."""
        out = {}
        for rel, pieces in self._pieces.items():
            rows = _concat_rows(pieces)
            account, accounts = _codes(rows.account)
            if rel == "USED_TEMPLATE":
                numbers, key = np.unique(rows.key, return_inverse=True)
                keys = band_text()[numbers]
            else:
                key, distinct = _codes(rows.key)
                keys = _objects(distinct)
            order, starts, group = _groups(account * len(keys) + key)
            out[rel] = LinkRows(
                _objects(accounts)[group // len(keys)], keys[group % len(keys)],
                np.add.reduceat(rows.n[order], starts),
                np.minimum.reduceat(rows.first[order], starts),
                np.maximum.reduceat(rows.last[order], starts),
            )  # fmt: skip
        return out

    def merge_into(self, fold: Fold) -> None:
        """Into `fold.links`, as `Fold.add` would have put them."""
        for rel, rows in self.rows().items():
            for account, key, n, first, last in zip(
                rows.account.tolist(), rows.key.tolist(), rows.n.tolist(), rows.first.tolist(),
                rows.last.tolist(), strict=True,
            ):  # fmt: skip
                merge_span(fold.links, (rel, account, key), n, first, last)


def _objects(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _concat_rows(pieces: list[LinkRows]) -> LinkRows:
    if len(pieces) == 1:
        return pieces[0]
    return LinkRows(*(
        np.concatenate([getattr(piece, name) for piece in pieces])
        for name in ("account", "key", "n", "first", "last")
    ))  # fmt: skip


assert set(_LINK_COLUMNS) | {"USED_TEMPLATE"} <= set(LINKS)
