"""The graph's vocabulary: node labels and the key each one is merged on.

Every label here gets a uniqueness constraint (see `schema_queries`), so concurrent MERGEs
from parallel batches can never create the same node twice.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from backend.events.contract import CAPABILITIES

ACCOUNT = "Account"
CLUSTER = "Cluster"


class Verdict(StrEnum):
    """An analyst's decision on a cluster or an account (`verdict` on either node)."""

    CONFIRMED_FRAUD = "CONFIRMED_FRAUD"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class ClusterStatus(StrEnum):
    """`Cluster.status`: current, absorbed by another cluster, or gone (kept for lineage,
    verdicts and regrowth)."""

    ACTIVE = "active"
    MERGED = "merged"
    DISSOLVED = "dissolved"


# Identifier kinds: what accounts share. Each node is merged on its canonical `key`.
IDENTIFIER_LABELS: tuple[str, ...] = (
    "PaymentMethod",
    "Device",
    "IP",
    "Subnet",
    "ASN",
    "ProxyProvider",
    "Email",
    "EmailDomain",
    "Phone",
    "BillingAddress",
    "ClientFingerprint",
    "PromptTemplateBand",
    "Model",
)

# Account → identifier relationship types, each carrying count, first_seen and last_seen.
LINKS: dict[str, str] = {
    "HAS_EMAIL": "Email",
    "EMAIL_DOMAIN": "EmailDomain",
    "HAS_PHONE": "Phone",
    "USED_DEVICE": "Device",
    "USED_IP": "IP",
    "USED_SUBNET": "Subnet",
    "USED_ASN": "ASN",
    "VIA_PROXY": "ProxyProvider",
    "PAID_WITH": "PaymentMethod",
    "BILLED_TO": "BillingAddress",
    "USED_CLIENT": "ClientFingerprint",
    "USED_TEMPLATE": "PromptTemplateBand",
    "USED_MODEL": "Model",
}

# Identifier → identifier relationships, without properties (`MERGE_IP_STRUCTURE`, emails).
STRUCTURE: dict[str, tuple[str, str]] = {
    "IN_SUBNET": ("IP", "Subnet"),
    "IN_ASN": ("IP", "ASN"),
    "EXIT_OF": ("IP", "ProxyProvider"),
    "AT_DOMAIN": ("Email", "EmailDomain"),
}
# Links whose identifier nodes have no other relationship (neither end of a STRUCTURE one):
# their holders are the node's whole degree, which Neo4j keeps in the first record of a
# node's relationship chain (`COUNT { (i)--() }`), where counting one type or one direction
# walks the chain. Over the `full` graph's 262,144 template bands: 0.2-0.3 s against 5.4-6.2 s
# (docs/benchmarks.md, "Full preset").
SOLE_LINKS = frozenset(
    rel for rel, label in LINKS.items() if all(label not in ends for ends in STRUCTURE.values())
)

# What each link says about an account, for detection: an owner identifier marks one owner (a
# payment instrument, a device, a mailbox, a phone, a billing address); a behaviour identifier
# marks how the account is used (prompt templates, client builds); the rest are places (IPs,
# subnets, ASNs, providers, email domains) or models. A team and a network can share a place.
OWNER_LINKS = frozenset({"PAID_WITH", "USED_DEVICE", "HAS_EMAIL", "HAS_PHONE", "BILLED_TO"})
BEHAVIOUR_LINKS = frozenset({"USED_TEMPLATE", "USED_CLIENT"})
# Places that link accounts when few share them (an exit, a /24, a company's email domain);
# ASNs and proxy providers are too coarse to link anyone.
PLACE_LINKS = frozenset({"USED_IP", "USED_SUBNET", "EMAIL_DOMAIN"})
# Every kind that links accounts: detection's projection weighs these
# (`DETECTION_KIND_WEIGHTS`), and investigation expands only these (linked accounts, paths).
LINKING = OWNER_LINKS | BEHAVIOUR_LINKS | PLACE_LINKS
# Pairs of links one of which contains the other (an address is inside its /24).
NESTED_LINKS = frozenset({frozenset({"USED_IP", "USED_SUBNET"})})
assert set(LINKS) >= LINKING

# The ingest journal's checkpoint (`backend.ingest.repository`): which folded batches the
# graph holds. Written in the same transaction as the data it accounts for.
INGEST_CHECKPOINT = "IngestCheckpoint"

# Detection's outputs: the change feed, its counter, one record per refresh.
CLUSTER_EVENT = "ClusterEvent"
SEQUENCE = "Sequence"
DETECTION_RUN = "DetectionRun"

# The API's own records: bearer tokens (stored hashed), analyst notes, the audit trail.
API_TOKEN = "ApiToken"  # noqa: S105 - a label
NOTE = "Note"
AUDIT_ENTRY = "AuditEntry"

# Memberships are versioned so a refresh can stage them in many small transactions and make
# them current in one small one. A refresh numbered `gen` creates the memberships it adds with
# `from: gen` and marks the ones it removes with `until: gen`; its last transaction sets each
# cluster's `gen`. A membership `m` of cluster `c` is current exactly when this holds, so
# readers never see a half-written refresh. Every reader of MEMBER_OF filters with it.
CURRENT_MEMBERSHIP = "(m.from <= c.gen AND (m.until IS NULL OR m.until > c.gen))"
# An email domain (as `i`) that never links the accounts using it: webmail and disposable
# domains say nothing about who is behind them (detection counts them as features instead).
UNLINKED_DOMAIN = "(coalesce(i.webmail, false) OR coalesce(i.disposable, false))"

# Detection's per-account inputs, packed into one property that every writer of the
# properties it derives from keeps current (ingest after each window, `heracles db migrate`
# for accounts without it: a backfilled graph, or one written before it existed). Why one
# property: Neo4j reads a property at ~1.8 µs an account, so 37 separate reads cost a
# million-account refresh ~19 s. Why bytes (little-endian int64s) and not a list: Bolt sends
# a byte array as one value, so a refresh decodes one object per account, not 37 (a fifth
# of the client's time, half the wall time; docs/benchmarks.md, "Full preset").
ACCOUNT_INPUTS_PROPERTY = "detection_inputs"
# input name -> the stored counter it copies
INPUT_COUNTERS: dict[str, str] = {
    "exchanges": "exchanges",
    "cot": "cot_elicitations",
    **{f"cap_{c}": f"cap_{c}" for c in CAPABILITIES},
    "charges": "charges",
    "disputed": "charges_disputed",
}
# input name -> the relationship type whose count (the account's degree) it is
INPUT_DEGREES: dict[str, str] = {"cards": "PAID_WITH", "ips": "USED_IP"}
HOUR_INPUTS: tuple[str, ...] = tuple(f"h{i}" for i in range(24))  # `hour_hist`, UTC hours
ACCOUNT_INPUTS: tuple[str, ...] = (*INPUT_COUNTERS, *INPUT_DEGREES, "signup_s", *HOUR_INPUTS)
INPUTS_DTYPE = "<i8"
# The inputs of the account bound to `a`, as a list (Cypher cannot pack bytes: the writer
# packs them with `pack_inputs`). Signup time in epoch seconds, first seen without one.
ACCOUNT_INPUTS_CYPHER = (
    "["
    + ", ".join(
        [f"coalesce(a.{prop}, 0)" for prop in INPUT_COUNTERS.values()]
        + [f"COUNT {{ (a)-[:{rel}]->() }}" for rel in INPUT_DEGREES.values()]
        + ["coalesce(a.signup_at, a.first_seen).epochMillis / 1000"]
    )
    + f"] + coalesce(a.hour_hist, [{', '.join('0' * len(HOUR_INPUTS))}])"
)


def pack_inputs(lists: list[list[int]]) -> list[bytes]:
    """`ACCOUNT_INPUTS_CYPHER` lists → the stored property's values."""
    if not lists:
        return []
    rows = np.asarray(lists, dtype=INPUTS_DTYPE).reshape(len(lists), len(ACCOUNT_INPUTS))
    return [row.tobytes() for row in rows]


def unpack_inputs(values: list[bytes]) -> npt.NDArray[np.int64]:
    """Stored values → one row of `ACCOUNT_INPUTS` per account."""
    flat = np.frombuffer(b"".join(values), dtype=INPUTS_DTYPE)
    return flat.reshape(len(values), len(ACCOUNT_INPUTS)).astype(np.int64)


# Gap-free counters, one `(:Sequence {name})` node each.
CLUSTER_EVENTS_SEQUENCE = "cluster_events"  # the change feed's `seq`
GENERATION_SEQUENCE = "detection_generation"  # refreshes (see detection.repository)


def reserve(sequence: str, count: str) -> str:
    """Cypher taking the next `count` numbers of a counter inside the writing transaction
    (concurrent writers queue on the counter node's lock, so numbers are gap-free and in
    commit order) and binding `base`, the number before them. Detection's events and an
    analyst's verdict events number the change feed through this one fragment."""
    return (
        f"MERGE (s:Sequence {{name: '{sequence}'}})\nON CREATE SET s.value = 0\n"
        f"SET s.value = s.value + {count}\nWITH s.value - {count} AS base\n"
    )


# (label, key property) for every node kind that writes MERGE on or looks up by a unique key.
MERGE_KEYS: tuple[tuple[str, str], ...] = (
    (ACCOUNT, "id"),
    (CLUSTER, "id"),
    (CLUSTER_EVENT, "seq"),
    (SEQUENCE, "name"),
    (DETECTION_RUN, "id"),
    (INGEST_CHECKPOINT, "name"),
    ("SmokeCheck", "id"),
    (API_TOKEN, "id"),
    (API_TOKEN, "hash"),
    (NOTE, "id"),
    (AUDIT_ENTRY, "id"),
    *((label, "key") for label in IDENTIFIER_LABELS),
)
