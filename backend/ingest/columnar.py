"""Usage, session and billing events folded column-wise: the bulk backfill's fast path.

These three are nearly all of a platform's history (the `full` preset: all but ~1M signups of
its ~32M events), and per event the general path costs ~70-140 µs of CPU in a backfill worker:
pydantic validation, the fold's dictionaries, then cutting the fold into parts and merging it
again (profiled on the `medium` and `full` seeds). Here a line costs a JSON parse and one pass
of plain checks, and the fold is numpy over whole parts.

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
part, by `fold_columns`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

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
# Full matches, as the contract's (Rust) patterns are: Python's `$` would let a trailing "\n"
# in. `[0-9]`, not `\d`, which in Python matches any script's digits.
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6})?"
    r"(?:Z|[+-][01][0-9]:[0-5][0-9])"
)
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{16}")
_CARD_BIN = re.compile(r"[0-9]{6,8}")
_CARD_LAST4 = re.compile(r"[0-9]{4}")
_IP_KINDS = frozenset(kind.value for kind in IpKind)
_PAYMENT_KINDS = frozenset(kind.value for kind in PaymentKind)
_FUNDING = frozenset(kind.value for kind in CardFunding)
_CAPABILITY = {name: i for i, name in enumerate(CAPABILITIES)}
_STATUS = {status.value: i for i, status in enumerate(BillingStatus)}
SUCCEEDED, FAILED, REFUNDED, DISPUTED = (_STATUS[s.value] for s in BillingStatus)
USAGE, SESSION, BILLING = 0, 1, 2
_KINDS = {"usage": USAGE, "session": SESSION, "billing": BILLING}

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


def _int(value: Any, limit: int = _MAX_INT) -> bool:
    return type(value) is int and 0 <= value < limit


def _text(value: Any) -> bool:
    return value is None or (type(value) is str and len(value) <= _TEXT_MAX)


def _id(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= _ID_MAX


def _matches(value: Any, pattern: re.Pattern[str]) -> bool:
    return value is None or (type(value) is str and pattern.fullmatch(value) is not None)


def _one_of(value: Any, values: frozenset[str] | dict[str, int]) -> bool:
    return value is None or (type(value) is str and value in values)


def accept(event: dict[str, Any]) -> Row | None:
    """One parsed line → its row, or None to send it the general way (see the module)."""
    kind = _KINDS.get(event.get("type"))  # type: ignore[arg-type]
    if kind is None:
        return None
    get = event.get
    event_id, account, when = get("event_id"), get("account_id"), get("occurred_at")
    if not (_id(event_id) and _id(account) and type(when) is str and _INSTANT.fullmatch(when)):
        return None
    place = _place(get, required=kind == SESSION)
    if place is None:
        return None
    usage, device, billing = _NO_USAGE, None, _NO_BILLING
    if kind == USAGE:
        usage = _usage(get)  # type: ignore[assignment]
        if usage is None:
            return None
    elif kind == SESSION:
        device = get("device_id")
        if not (_text(get("user_agent")) and _text(device) and _text(get("api_key_id"))):
            return None
        if device:
            device = _token(device)
            if device is None:
                return None
        else:
            device = None
    else:
        billing = _billing(get)  # type: ignore[assignment]
        if billing is None:
            return None
    try:
        instant = datetime.fromisoformat(when)
    except ValueError:
        return None
    # The event's own calendar day (`service.claim_key`): the date as written.
    day = when[0:4] + when[5:7] + when[8:10]
    return (event_id, account, int(instant.timestamp() * 1000), day, kind,
            *place, *usage, device, *billing)  # fmt: skip


def _place(get: Any, required: bool) -> tuple[Any, ...] | None:
    """`ip` and its enrichment, as `Fold.ip` keys them."""
    ip, asn, org, country = get("ip"), get("ip_asn"), get("ip_org"), get("ip_country")
    kind, proxy_raw = get("ip_kind"), get("proxy_provider")
    if not (
        (asn is None or _int(asn, _MAX_ASN)) and _text(org) and _text(proxy_raw)
        and _matches(country, _COUNTRY) and _one_of(kind, _IP_KINDS)
    ):  # fmt: skip
        return None
    if ip is None:
        return None if required else _NO_IP
    key = _ip(ip) if type(ip) is str else None
    if key is None:
        return None
    return (
        key.address, key.subnet, key.version, None if asn is None else ids.asn_key(asn), org,
        country, kind, proxy_raw, ids.proxy_key(proxy_raw) if proxy_raw else None,
    )  # fmt: skip


def _usage(get: Any) -> tuple[Any, ...] | None:
    model, tokens_in, tokens_out = get("model"), get("input_tokens"), get("output_tokens")
    tools, cot, capability = get("tool_calls"), get("cot_elicitation"), get("capability")
    signature, client = get("prompt_signature"), get("client_fingerprint")
    if not (
        _id(model) and _int(tokens_in) and _int(tokens_out) and (tools is None or _int(tools))
        and (cot is None or type(cot) is bool) and _one_of(capability, _CAPABILITY)
        and _matches(signature, _SIGNATURE) and _text(get("api_key_id")) and _text(client)
    ):  # fmt: skip
        return None
    client_key = None
    if client:
        client_key = _token(client)
        if client_key is None:
            return None
    return (
        ids.model_key(model), tokens_in, tokens_out, 1 if cot else 0, tools or 0,
        -1 if capability is None else _CAPABILITY[capability], client_key,
        signature.lower() if signature else None,
    )  # fmt: skip


def _billing(get: Any) -> tuple[Any, ...] | None:
    payment, address = get("payment_fingerprint"), get("billing_address_hash")
    amount = get("amount_minor")
    kind, funding, status = get("payment_kind"), get("card_funding"), get("status")
    card_bin, last4, postal = get("card_bin"), get("card_last4"), get("billing_postal")
    card_country, billing_country = get("card_country"), get("billing_country")
    if not (
        _id(payment) and _one_of(kind, _PAYMENT_KINDS) and _matches(card_bin, _CARD_BIN)
        and _matches(last4, _CARD_LAST4) and _one_of(funding, _FUNDING)
        and _matches(card_country, _COUNTRY) and _matches(billing_country, _COUNTRY)
        and _text(postal) and _text(address) and (amount is None or _int(amount))
        and _matches(get("currency"), _CURRENCY) and _one_of(status, _STATUS)
    ):  # fmt: skip
        return None
    payment_key = _token(payment)
    if payment_key is None:
        return None
    address_key = None
    if address:
        address_key = _token(address)
        if address_key is None:
            return None
    code = SUCCEEDED if status is None else _STATUS[status]
    return (
        code, amount if amount and code != FAILED else 0, payment_key,
        {"kind": kind, "bin": card_bin, "last4": last4, "funding": funding,
         "card_country": card_country, "billing_country": billing_country},
        address_key, {"country": billing_country, "postal": postal} if address_key else None,
    )  # fmt: skip


def node_state(rows: list[Row], into: Fold) -> None:
    """The identifier-keyed part of the rows' fold, into `into` (a chunk's `Fold`)."""
    latest: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def keep(label: str, key: str, st: str, props: dict[str, Any]) -> None:
        if all(value is None for value in props.values()):
            return  # `Fold.set_props`: an event carrying none keeps what was there
        current = latest.get((label, key))
        if current is None or st > current[0]:
            latest[(label, key)] = (st, props)

    for row in rows:
        st = ""
        if row[KIND] == BILLING:
            # `Fold._billing`: the latest event carrying any property sets the node's.
            st = f"{row[T]:013d}|{row[EVENT_ID]}"
            keep("PaymentMethod", row[PAYMENT], st, row[PAYMENT_PROPS])
            if row[BILLED] is not None:
                keep("BillingAddress", row[BILLED], st, row[BILLED_PROPS])
        address = row[ADDRESS]
        if address is None:
            continue
        asn, proxy_raw, org = row[ASN], row[PROXY_RAW], row[ORG]
        country, kind = row[IP_COUNTRY], row[IP_KIND]
        into.ip_structure.add((address, row[SUBNET], row[VERSION], asn, row[PROXY]))
        # `Fold.ip`: likewise the IP's (and, with an organisation, the ASN's) properties.
        if asn is None and org is None and country is None and kind is None and proxy_raw is None:
            continue
        st = st or f"{row[T]:013d}|{row[EVENT_ID]}"
        keep("IP", address, st, {
            "asn": None if asn is None else int(asn[2:]), "org": org, "country": country,
            "kind": kind, "proxy_provider": proxy_raw,
        })  # fmt: skip
        if asn is not None and org is not None:
            keep("ASN", asn, st, {"org": org})
    for (label, key), (st, props) in latest.items():
        into.set_props(label, key, st, props)
    for column, label in _TARGETS.items():
        into.targets.update((label, row[column]) for row in rows if row[column] is not None)
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


def fold_columns(columns: Columns, into: Fold) -> int:
    """`Fold.add`'s account-keyed effect of one part's rows, merged into `into`; returns
    the number of events."""
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
