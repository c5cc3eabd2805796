"""Validated events → the rows a graph write applies. Pure: no I/O, so it is unit-tested directly.

Everything is folded before it reaches Neo4j: thousands of usage events become one counter row
per account and one row per (account, identifier) pair. Every fold is commutative and
associative (sums, min/max, "latest stamp wins"), so the graph does not depend on delivery order,
and folds of separate batches merge (`Fold.merge_state`) into exactly the fold of all their events:
workers fold batches, the journal carries the folds (`Fold.to_state`), the flusher merges them.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from backend.events.contract import (
    CAPABILITIES,
    BillingEvent,
    BillingStatus,
    Event,
    ModelReleaseEvent,
    SessionEvent,
    SignupEvent,
    UsageEvent,
)
from backend.graph.model import LINKS
from backend.normalise import identifiers as ids

# Account counters, all additive. Usage ones are the per-account behaviour detection reads.
COUNTERS = (
    "sessions", "charges", "charges_failed", "charges_refunded", "charges_disputed",
    "amount_minor", "exchanges", "tokens_in", "tokens_out", "cot_elicitations", "tool_calls",
    *(f"cap_{name}" for name in CAPABILITIES),
)  # fmt: skip
COUNTER_INDEX = {name: i for i, name in enumerate(COUNTERS)}


MS_PER_HOUR = 3_600_000

# What `Fold.to_state` carries besides the event count.
STATE_FIELDS = (
    "accounts", "signups", "counters", "links", "props", "ip_structure", "releases", "emails",
    "targets",
)  # fmt: skip
# Properties the fold sets: an account's from its earliest signup, an identifier's from the
# latest event that carried any (see `Fold.set_props`); absent values are not written.
SIGNUP_PROPERTIES = (
    "email", "email_domain", "email_local_shape", "signup_ip", "signup_ip_kind",
    "signup_ip_country", "phone", "country", "org_name", "signup_channel", "user_agent",
)  # fmt: skip
IDENTIFIER_PROPERTIES: dict[str, tuple[str, ...]] = {
    "IP": ("asn", "org", "country", "kind", "proxy_provider"),
    "ASN": ("org",),
    "PaymentMethod": ("kind", "bin", "last4", "funding", "card_country", "billing_country"),
    "BillingAddress": ("country", "postal"),
}


@lru_cache(maxsize=1 << 20)
def part_of(key: str, parts: int) -> int:
    """Stable across processes and runs (unlike `hash`); cached, as an account or a hot
    identifier recurs in chunk after chunk."""
    return zlib.crc32(key.encode()) % parts


def epoch_ms(event: Event) -> int:
    """Times travel to Neo4j as epoch milliseconds: the driver packs an int ~100x faster
    than a datetime, and Cypher turns it into a DateTime with `datetime({epochMillis: t})`."""
    return int(event.occurred_at.timestamp() * 1000)


def stamp(event: Event, ms: int) -> str:
    """Total order on events for "latest (or earliest) wins": time, then event id."""
    return f"{ms:013d}|{event.event_id}"


def _span(spans: dict[Any, list[int]], key: Any, t: int) -> None:
    """[count, first, last] per key."""
    span = spans.get(key)
    if span is None:
        spans[key] = [1, t, t]
    else:
        span[0] += 1
        if t < span[1]:
            span[1] = t
        elif t > span[2]:
            span[2] = t


def merge_span(spans: dict[Any, list[int]], key: Any, n: int, first: int, last: int) -> None:
    span = spans.get(key)
    if span is None:
        spans[key] = [n, first, last]
    else:
        span[0] += n
        if first < span[1]:
            span[1] = first
        if last > span[2]:
            span[2] = last


@dataclass
class _Props:
    stamp: str
    props: dict[str, Any]


@dataclass
class _Usage:
    counters: list[int] = field(default_factory=lambda: [0] * len(COUNTERS))
    hours: list[int] = field(default_factory=lambda: [0] * 24)


@dataclass
class WritePlan:
    accounts: list[dict[str, Any]]
    signups: list[dict[str, Any]]
    counters: list[dict[str, Any]]
    links: dict[str, list[dict[str, Any]]]
    identifier_props: dict[str, list[dict[str, Any]]]
    ip_structure: list[dict[str, Any]]
    emails: list[dict[str, Any]]
    model_releases: list[dict[str, Any]]
    events: int

    @property
    def rows(self) -> int:
        return sum(
            len(rows)
            for rows in (
                self.accounts, self.signups, self.counters, self.ip_structure, self.emails,
                self.model_releases, *self.links.values(), *self.identifier_props.values(),
            )
        )  # fmt: skip

    @property
    def account_ids(self) -> list[str]:
        return [row["id"] for row in self.accounts]


class Fold:
    """The folded effect of a set of events; merging two folds gives the fold of both sets."""

    def __init__(self) -> None:
        self.events = 0
        self.accounts: dict[str, list[int]] = {}
        self.signups: dict[str, _Props] = {}
        self.counters: dict[str, _Usage] = defaultdict(_Usage)
        self.links: dict[tuple[str, str, str], list[int]] = {}
        self.props: dict[tuple[str, str], _Props] = {}
        # (ip, subnet, version, asn, proxy): structural edges, set semantics.
        self.ip_structure: set[tuple[str, str, int, str | None, str | None]] = set()
        self.releases: dict[str, int] = {}
        self.emails: dict[str, ids.EmailKey] = {}
        # Identifier nodes linked by rows folded elsewhere: the backfill folds the links of
        # plain usage, session and billing lines column-wise in the account's part
        # (`backend.ingest.columnar`), and their nodes must still be created, once, by the
        # node's part (`split_state`).
        self.targets: set[tuple[str, str]] = set()

    # --- helpers -------------------------------------------------------------------------
    def link(self, account: str, rel: str, key: str, t: int) -> None:
        _span(self.links, (rel, account, key), t)

    def set_props(self, label: str, key: str, st: str, props: dict[str, Any]) -> None:
        """The whole property set of the latest event that carries any wins (absent → null).

        Whole-set replacement keeps the result independent of arrival order, across batches too.
        """
        for value in props.values():
            if value is not None:
                self._keep_props(label, key, st, props)
                return

    def stale(self, label: str, key: str, st: str) -> bool:
        """Whether an event stamped `st` is older than the properties kept for the node: its
        own cannot win, so they need not even be gathered (most events, on a hot exit)."""
        current = self.props.get((label, key))
        return current is not None and st <= current.stamp

    def count(self, account: str, name: str, delta: int = 1) -> None:
        self.counters[account].counters[COUNTER_INDEX[name]] += delta

    def ip(
        self,
        account: str,
        event: SignupEvent | SessionEvent | BillingEvent | UsageEvent,
        t: int,
        st: str,
    ) -> None:
        if event.ip is None:
            return
        key = ids.normalise_ip(str(event.ip))
        self.link(account, "USED_IP", key.address, t)
        self.link(account, "USED_SUBNET", key.subnet, t)
        asn = ids.asn_key(event.ip_asn) if event.ip_asn is not None else None
        proxy = ids.proxy_key(event.proxy_provider) if event.proxy_provider else None
        self.ip_structure.add((key.address, key.subnet, key.version, asn, proxy))
        if not self.stale("IP", key.address, st):
            self.set_props(
                "IP", key.address, st,
                {"asn": event.ip_asn, "org": event.ip_org, "country": event.ip_country,
                 "kind": event.ip_kind.value if event.ip_kind else None,
                 "proxy_provider": event.proxy_provider},
            )  # fmt: skip
        if asn is not None:
            self.link(account, "USED_ASN", asn, t)
            if not self.stale("ASN", asn, st):
                self.set_props("ASN", asn, st, {"org": event.ip_org})
        if proxy is not None:
            self.link(account, "VIA_PROXY", proxy, t)

    # --- per event type ------------------------------------------------------------------
    def add(self, event: Event) -> None:
        self.events += 1
        t = epoch_ms(event)
        if isinstance(event, ModelReleaseEvent):
            key = ids.model_key(event.model)
            self.releases[key] = min(t, self.releases.get(key, t))
            return
        st = stamp(event, t)
        account = event.account_id
        _span(self.accounts, account, t)
        self.ip(account, event, t, st)
        if isinstance(event, UsageEvent):
            self._usage(account, event, t, st)
        elif isinstance(event, SessionEvent):
            self.count(account, "sessions")
            if event.device_id:
                self.link(account, "USED_DEVICE", ids.normalise_token(event.device_id), t)
        elif isinstance(event, BillingEvent):
            self._billing(account, event, t, st)
        elif isinstance(event, SignupEvent):
            self._signup(account, event, t, st)

    def _usage(self, account: str, event: UsageEvent, t: int, st: str) -> None:
        usage = self.counters[account]
        c = usage.counters
        c[COUNTER_INDEX["exchanges"]] += 1
        c[COUNTER_INDEX["tokens_in"]] += event.input_tokens
        c[COUNTER_INDEX["tokens_out"]] += event.output_tokens
        if event.cot_elicitation:
            c[COUNTER_INDEX["cot_elicitations"]] += 1
        if event.tool_calls:
            c[COUNTER_INDEX["tool_calls"]] += event.tool_calls
        if event.capability is not None:
            c[COUNTER_INDEX[f"cap_{event.capability.value}"]] += 1
        usage.hours[(t // MS_PER_HOUR) % 24] += 1
        self.link(account, "USED_MODEL", ids.model_key(event.model), t)
        if event.client_fingerprint:
            self.link(account, "USED_CLIENT", ids.normalise_token(event.client_fingerprint), t)
        if event.prompt_signature:
            for band in ids.prompt_bands(event.prompt_signature):
                self.link(account, "USED_TEMPLATE", band, t)

    def _billing(self, account: str, event: BillingEvent, t: int, st: str) -> None:
        self.count(account, "charges")
        if event.status is BillingStatus.FAILED:
            self.count(account, "charges_failed")
        elif event.status is BillingStatus.REFUNDED:
            self.count(account, "charges_refunded")
        elif event.status is BillingStatus.DISPUTED:
            self.count(account, "charges_disputed")
        if event.amount_minor and event.status is not BillingStatus.FAILED:
            self.count(account, "amount_minor", event.amount_minor)
        payment = ids.normalise_token(event.payment_fingerprint)
        self.link(account, "PAID_WITH", payment, t)
        self.set_props(
            "PaymentMethod", payment, st,
            {"kind": event.payment_kind.value if event.payment_kind else None,
             "bin": event.card_bin, "last4": event.card_last4,
             "funding": event.card_funding.value if event.card_funding else None,
             "card_country": event.card_country, "billing_country": event.billing_country},
        )  # fmt: skip
        if event.billing_address_hash:
            address = ids.normalise_token(event.billing_address_hash)
            self.link(account, "BILLED_TO", address, t)
            self.set_props(
                "BillingAddress",
                address,
                st,
                {"country": event.billing_country, "postal": event.billing_postal},
            )

    def _signup(self, account: str, event: SignupEvent, t: int, st: str) -> None:
        email = ids.normalise_email(event.email)
        ip = ids.normalise_ip(str(event.ip))
        self.link(account, "HAS_EMAIL", email.mailbox, t)
        self.link(account, "EMAIL_DOMAIN", email.domain, t)
        self._email(email)
        phone = ids.normalise_phone(event.phone) if event.phone else None
        if phone:
            self.link(account, "HAS_PHONE", phone, t)
        if event.device_id:
            self.link(account, "USED_DEVICE", ids.normalise_token(event.device_id), t)
        props = {
            "email": email.mailbox, "email_domain": email.domain,
            "email_local_shape": email.local_shape, "signup_ip": ip.address,
            "signup_ip_kind": event.ip_kind.value if event.ip_kind else None,
            "signup_ip_country": event.ip_country, "phone": phone, "country": event.country,
            "org_name": event.org_name, "signup_channel": event.signup_channel,
            "user_agent": event.user_agent,
        }  # fmt: skip
        # Of two signups for one account, the earliest defines it, whatever the arrival order.
        current = self.signups.get(account)
        if current is None or st < current.stamp:
            self.signups[account] = _Props(st, props)

    def _email(self, email: ids.EmailKey) -> None:
        """Spellings of one mailbox can differ in shape (`j.doe@gmail.com` and `jdoe@...`):
        the smallest shape wins, so the `Email` node does not depend on arrival order."""
        current = self.emails.get(email.mailbox)
        if current is None or email.local_shape < current.local_shape:
            self.emails[email.mailbox] = email

    # --- merging and transport -----------------------------------------------------------
    def _keep_props(self, label: str, key: str, st: str, props: dict[str, Any]) -> None:
        current = self.props.get((label, key))
        if current is None or st > current.stamp:
            self.props[(label, key)] = _Props(st, props)

    def merge_state(self, state: dict[str, Any]) -> None:
        """Fold another fold (as `to_state` wrote it) into this one."""
        self.events += state["events"]
        for account, n, first, last in state["accounts"]:
            merge_span(self.accounts, account, n, first, last)
        for account, st, props in state["signups"]:
            current = self.signups.get(account)
            if current is None or st < current.stamp:
                self.signups[account] = _Props(st, props)
        for account, counters, hours in state["counters"]:
            usage = self.counters.get(account)
            if usage is None:
                self.counters[account] = _Usage(list(counters), list(hours))
            else:
                usage.counters = [a + b for a, b in zip(usage.counters, counters, strict=True)]
                usage.hours = [a + b for a, b in zip(usage.hours, hours, strict=True)]
        for rel, account, key, n, first, last in state["links"]:
            merge_span(self.links, (rel, account, key), n, first, last)
        for label, key, st, props in state["props"]:
            self._keep_props(label, key, st, props)
        self.ip_structure.update(tuple(row) for row in state["ip_structure"])
        for key, t in state["releases"]:
            self.releases[key] = min(t, self.releases.get(key, t))
        for mailbox, domain, webmail, disposable, shape in state["emails"]:
            self._email(ids.EmailKey(mailbox, domain, webmail, disposable, shape))
        self.targets.update((label, key) for label, key in state.get("targets", ()))

    def to_state(self) -> dict[str, Any]:
        """JSON-ready, and `Fold().merge_state(f.to_state())` rebuilds `f`."""
        return {
            "events": self.events,
            "accounts": [[a, *span] for a, span in self.accounts.items()],
            "signups": [[a, p.stamp, p.props] for a, p in self.signups.items()],
            "counters": [[a, u.counters, u.hours] for a, u in self.counters.items()],
            "links": [[*key, *span] for key, span in self.links.items()],
            "props": [[label, key, p.stamp, p.props] for (label, key), p in self.props.items()],
            "ip_structure": [list(row) for row in self.ip_structure],
            "releases": [[key, t] for key, t in self.releases.items()],
            "emails": [
                [e.mailbox, e.domain, e.webmail, e.disposable, e.local_shape]
                for e in self.emails.values()
            ],
            "targets": [list(target) for target in self.targets],
        }

    def split_state(self, parts: int) -> list[dict[str, Any]]:
        """`to_state` cut into `parts` states that merge independently (bulk backfill).

        What is keyed by account (lifetime, signup, counters, links) goes to the account's
        part; what is keyed by an identifier (enrichment, IP structure, emails, releases) to
        the identifier's. Each part also lists, under `nodes`, the identifier nodes it owns
        with the properties a graph write sets when creating them, so every node is written
        by exactly one part.
        """
        states: list[dict[str, Any]] = [
            {name: [] for name in (*STATE_FIELDS, "nodes")} | {"events": 0} for _ in range(parts)
        ]  # fmt: skip
        states[0]["events"] = self.events

        def by_account(account: str) -> dict[str, Any]:
            return states[part_of(account, parts)]

        def by_node(label: str, key: str) -> dict[str, Any]:
            return states[part_of(f"{label}\x1f{key}", parts)]

        nodes: dict[tuple[str, str], dict[str, Any]] = {}
        for account, span in self.accounts.items():
            by_account(account)["accounts"].append([account, *span])
        for account, p in self.signups.items():
            by_account(account)["signups"].append([account, p.stamp, p.props])
        for account, u in self.counters.items():
            by_account(account)["counters"].append([account, u.counters, u.hours])
        links_by_account: dict[str, list[list[Any]]] = defaultdict(list)
        for (rel, account, key), span in self.links.items():
            links_by_account[account].append([rel, account, key, *span])
            nodes.setdefault((LINKS[rel], key), {})
        for account, rows in links_by_account.items():
            by_account(account)["links"] += rows
        for (label, key), p in self.props.items():
            by_node(label, key)["props"].append([label, key, p.stamp, p.props])
            nodes.setdefault((label, key), {})
        for row in self.ip_structure:
            ip, subnet, version, asn, proxy = row
            by_node("IP", ip)["ip_structure"].append(list(row))
            nodes[("IP", ip)] = {"version": version}
            nodes[("Subnet", subnet)] = {"version": version}
            if asn is not None:
                nodes.setdefault(("ASN", asn), {})
            if proxy is not None:
                nodes.setdefault(("ProxyProvider", proxy), {})
        for key, t in self.releases.items():
            by_node("Model", key)["releases"].append([key, t])
            nodes.setdefault(("Model", key), {})
        for e in self.emails.values():
            by_node("Email", e.mailbox)["emails"].append(
                [e.mailbox, e.domain, e.webmail, e.disposable, e.local_shape]
            )
            nodes[("Email", e.mailbox)] = {"domain": e.domain, "local_shape": e.local_shape}
            nodes[("EmailDomain", e.domain)] = {"webmail": e.webmail, "disposable": e.disposable}
        for target in self.targets:
            nodes.setdefault(target, {})
        for (label, key), created in nodes.items():
            by_node(label, key)["nodes"].append([label, key, created])
        return states

    def build(self, ordered: bool = True) -> WritePlan:
        """`ordered`: rows sorted by key, so concurrent graph writes take locks in one order;
        the bulk backfill writes files and skips the sorting."""
        order: Callable[..., Iterable[Any]] = sorted if ordered else _as_is
        events = self.events
        links: dict[str, list[dict[str, Any]]] = {rel: [] for rel in LINKS}
        for (rel, account, key), span in order(self.links.items()):
            links[rel].append(
                {
                    "account": account,
                    "key": key,
                    "n": span[0],
                    "first": span[1],
                    "last": span[2],
                }
            )
        identifier_props: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (label, key), p in order(self.props.items()):
            identifier_props[label].append({"key": key, "stamp": p.stamp, "props": p.props})
        return WritePlan(
            accounts=[
                {"id": a, "n": s[0], "first": s[1], "last": s[2]}
                for a, s in order(self.accounts.items())
            ],
            signups=[
                {"id": a, "stamp": p.stamp, "signup_at": int(p.stamp[:13]), "props": p.props}
                for a, p in order(self.signups.items())
            ],
            counters=[
                {
                    "id": a,
                    "counters": dict(zip(COUNTERS, u.counters, strict=True)),
                    "hours": u.hours,
                }
                for a, u in order(self.counters.items())
            ],
            links={rel: rows for rel, rows in links.items() if rows},
            identifier_props=dict(identifier_props),
            ip_structure=[
                {"ip": ip, "subnet": subnet, "version": version, "asn": asn, "proxy": proxy}
                for ip, subnet, version, asn, proxy in order(self.ip_structure, key=str)
            ],
            emails=[
                {
                    "key": e.mailbox,
                    "domain": e.domain,
                    "local_shape": e.local_shape,
                    "webmail": e.webmail,
                    "disposable": e.disposable,
                }
                for _, e in order(self.emails.items())
            ],
            model_releases=[{"key": k, "released_at": t} for k, t in order(self.releases.items())],
            events=events,
        )


def _as_is(items: Iterable[Any], key: Callable[[Any], Any] | None = None) -> Iterable[Any]:
    return items


def fold(events: Iterable[Event]) -> Fold:
    folded = Fold()
    for event in events:
        folded.add(event)
    return folded


def build_plan(events: Iterable[Event]) -> WritePlan:
    return fold(events).build()
