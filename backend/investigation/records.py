"""What the read side hands the API: typed records decoded once from the graph's properties, so
the GraphQL types map fields and never reach into property dicts or JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.events.contract import CAPABILITIES
from backend.graph.model import ClusterStatus


def to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (what hot queries return: hydrating Neo4j temporals is slow) or a
    Neo4j temporal value to Python; absent to None."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value.to_native() if hasattr(value, "to_native") else None


def _int(props: dict[str, Any], name: str) -> int:
    return int(props.get(name) or 0)


def _json(props: dict[str, Any], name: str, default: Any) -> Any:
    raw = props.get(name)
    return json.loads(raw) if isinstance(raw, str) else default


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """The latest analyst verdict on an account or a cluster."""

    verdict: str
    note: str | None
    set_by: str | None
    set_at: datetime | None

    @staticmethod
    def of(props: dict[str, Any]) -> VerdictRecord | None:
        if not props.get("verdict"):
            return None
        at = to_datetime(props.get("verdict_at"))
        return VerdictRecord(
            props["verdict"], props.get("verdict_note"), props.get("verdict_by"), at
        )


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    rel: str  # the relationship type from the account (the identifier's kind)
    key: str
    members: int
    degree: int


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    id: str
    status: str
    risk: float
    size: int
    created_at: datetime | None
    refreshed_at: datetime | None
    run_id: str | None
    merged_into: str | None
    network: str | None  # only while active: a merged or dissolved cluster is in no network
    features: dict[str, float]
    bias: float
    contributions: dict[str, float]
    evidence: list[EvidenceRecord]
    verdict: VerdictRecord | None

    @staticmethod
    def of(props: dict[str, Any]) -> ClusterRecord:
        status = props.get("status") or ClusterStatus.ACTIVE.value
        explanation = _json(props, "explanation", {})
        return ClusterRecord(
            id=props["id"], status=status, risk=float(props.get("risk") or 0.0),
            size=_int(props, "size"), created_at=to_datetime(props.get("created_at")),
            refreshed_at=to_datetime(props.get("refreshed_at")), run_id=props.get("run_id"),
            merged_into=props.get("merged_into") or None,
            network=(props.get("network") or None) if status == ClusterStatus.ACTIVE else None,
            features={k: float(v) for k, v in _json(props, "features", {}).items()},
            bias=float(explanation.get("bias", 0.0)),
            contributions={k: float(v) for k, v in explanation.get("contributions", {}).items()},
            evidence=[EvidenceRecord(e["kind"], e["key"], e["members"], e["degree"])
                      for e in _json(props, "evidence", [])],
            verdict=VerdictRecord.of(props),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class BehaviourRecord:
    """Usage events folded per account (never stored one by one)."""

    sessions: int
    exchanges: int
    tokens_in: int
    tokens_out: int
    cot_elicitations: int
    tool_calls: int
    capabilities: dict[str, int]  # per contract capability, in its order
    hour_histogram: list[int]
    distinct_ips: int
    distinct_client_fingerprints: int


@dataclass(frozen=True, slots=True)
class BillingRecord:
    charges: int
    charges_failed: int
    charges_refunded: int
    charges_disputed: int
    amount_minor: int
    distinct_payment_methods: int


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    signup_at: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None
    email: str | None
    email_domain: str | None
    phone: str | None
    country: str | None
    org_name: str | None
    signup_channel: str | None
    signup_ip: str | None
    signup_ip_kind: str | None
    user_agent: str | None
    events: int
    behaviour: BehaviourRecord
    billing: BillingRecord
    verdict: VerdictRecord | None

    @staticmethod
    def of(props: dict[str, Any]) -> AccountRecord:
        p = props
        return AccountRecord(
            id=p["id"], signup_at=to_datetime(p.get("signup_at")),
            first_seen=to_datetime(p.get("first_seen")), last_seen=to_datetime(p.get("last_seen")),
            email=p.get("email"), email_domain=p.get("email_domain"), phone=p.get("phone"),
            country=p.get("country"), org_name=p.get("org_name"),
            signup_channel=p.get("signup_channel"), signup_ip=p.get("signup_ip"),
            signup_ip_kind=p.get("signup_ip_kind"), user_agent=p.get("user_agent"),
            events=_int(p, "events"),
            behaviour=BehaviourRecord(
                sessions=_int(p, "sessions"), exchanges=_int(p, "exchanges"),
                tokens_in=_int(p, "tokens_in"), tokens_out=_int(p, "tokens_out"),
                cot_elicitations=_int(p, "cot_elicitations"), tool_calls=_int(p, "tool_calls"),
                capabilities={c: _int(p, f"cap_{c}") for c in CAPABILITIES},
                hour_histogram=[int(v) for v in p.get("hour_hist") or [0] * 24],
                distinct_ips=_int(p, "distinct_ips"),
                distinct_client_fingerprints=_int(p, "distinct_client_fingerprints"),
            ),
            billing=BillingRecord(
                charges=_int(p, "charges"), charges_failed=_int(p, "charges_failed"),
                charges_refunded=_int(p, "charges_refunded"),
                charges_disputed=_int(p, "charges_disputed"),
                amount_minor=_int(p, "amount_minor"),
                distinct_payment_methods=_int(p, "distinct_payment_methods"),
            ),
            verdict=VerdictRecord.of(p),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeedEventRecord:
    """One change to one cluster, as the change feed numbered it."""

    seq: int
    type: str
    cluster_id: str
    related: list[str]
    size_before: int | None
    size_after: int | None
    verdict: str | None
    actor: str | None
    run_id: str | None
    at: datetime | None

    @staticmethod
    def of(p: dict[str, Any]) -> FeedEventRecord:
        return FeedEventRecord(
            seq=int(p["seq"]), type=p["type"], cluster_id=p["cluster_id"],
            related=list(p.get("related") or []), size_before=p.get("size_before"),
            size_after=p.get("size_after"), verdict=p.get("verdict") or None,
            actor=p.get("actor"), run_id=p.get("run_id"), at=to_datetime(p.get("at")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    at: datetime | None
    actor: str
    role: str
    action: str
    target_kind: str
    target_id: str
    before: Any  # decoded JSON
    after: Any

    @staticmethod
    def of(p: dict[str, Any]) -> AuditRecord:
        return AuditRecord(
            id=p["id"], at=to_datetime(p.get("at")), actor=p["actor"], role=p["role"],
            action=p["action"], target_kind=p["target_kind"], target_id=p["target_id"],
            before=_json(p, "before", None), after=_json(p, "after", None),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MemberWhyRecord:
    """A membership's stored explanation (`MEMBER_OF.why`, JSON text), decoded."""

    ties: list[tuple[str, str, int, int]]  # (relationship, key, members holding it, all holders)
    tie: float
    behaviour: float

    @staticmethod
    def parse(raw: str | None) -> MemberWhyRecord | None:
        if not raw:
            return None
        why = json.loads(raw)
        ties = [(str(k), str(v), int(m), int(d)) for k, v, m, d in why["ties"]]
        return MemberWhyRecord(ties, float(why["tie"]), float(why["behaviour"]))


@dataclass(frozen=True, slots=True)
class BanRecord:
    """One account ban tooling acts on, with its stable cluster (and network) id."""

    account_id: str
    cluster_id: str
    network_id: str | None
    confidence: float
    cluster_risk: float
    cluster_verdict: str | None
    account_verdict: str | None
    reason: str
    why: MemberWhyRecord | None

    @staticmethod
    def of(r: Mapping[str, Any]) -> BanRecord:
        return BanRecord(
            account_id=r["account_id"], cluster_id=r["cluster_id"],
            network_id=r["network_id"] or None, confidence=r["confidence"],
            cluster_risk=r["risk"] or 0.0, cluster_verdict=r["cluster_verdict"] or None,
            account_verdict=r["account_verdict"] or None, reason=r["reason"],
            why=MemberWhyRecord.parse(r["why"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    cluster_id: str
    confidence: float
    since: datetime | None


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """An analyst's note on an account or a cluster."""

    id: str
    text: str
    author: str
    at: datetime | None

    @staticmethod
    def of(r: Mapping[str, Any]) -> NoteRecord:
        return NoteRecord(id=r["note_id"], text=r["text"], author=r["author"],
                          at=to_datetime(r["at"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class LineageLinkRecord:
    cluster_id: str
    kind: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """A cluster's parents and children in the DERIVED_FROM lineage."""

    parents: list[LineageLinkRecord]
    children: list[LineageLinkRecord]

    @staticmethod
    def of(r: Mapping[str, Any] | None) -> LineageRecord:
        def links(items: list[Mapping[str, Any]]) -> list[LineageLinkRecord]:
            return [LineageLinkRecord(x["cluster"], x["kind"], to_datetime(x["at"])) for x in items]

        r = r or {}
        return LineageRecord(links(r.get("parents") or []), links(r.get("children") or []))


@dataclass(frozen=True, slots=True)
class IdentifierRecord:
    """An identifier node: its key, how many accounts hold it, its enrichment (temporal values
    as ISO text; the key and the write stamp left out)."""

    key: str
    degree: int
    attributes: dict[str, Any]

    @staticmethod
    def of(r: Mapping[str, Any]) -> IdentifierRecord:
        attributes = {
            k: (v.iso_format() if hasattr(v, "iso_format") else v)
            for k, v in r["props"].items()
            if k not in ("key", "props_stamp")
        }
        return IdentifierRecord(key=r["key"], degree=r["degree"], attributes=attributes)


@dataclass(frozen=True, slots=True)
class HeldIdentifierRecord:
    """One identifier an account holds: the relationship's use counters and the holder count."""

    rel: str
    key: str
    degree: int
    count: int | None
    first_seen: datetime | None
    last_seen: datetime | None

    @staticmethod
    def of(r: Mapping[str, Any]) -> HeldIdentifierRecord:
        return HeldIdentifierRecord(
            rel=r["rel"], key=r["key"], degree=r["degree"], count=r["count"],
            first_seen=to_datetime(r["first_seen"]), last_seen=to_datetime(r["last_seen"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelUseRecord:
    """An account's use of one model, with the model's release."""

    model: str
    exchanges: int
    first_used: datetime | None
    last_used: datetime | None
    released_at: datetime | None

    @staticmethod
    def of(r: Mapping[str, Any]) -> ModelUseRecord:
        return ModelUseRecord(
            model=r["model"], exchanges=r["count"] or 0, first_used=to_datetime(r["first_seen"]),
            last_used=to_datetime(r["last_seen"]), released_at=to_datetime(r["released_at"]),
        )  # fmt: skip


# --- rows of the read side's pages (`investigation.repository`) ---------------------------


@dataclass(frozen=True, slots=True)
class ClusterRow:
    id: str
    sort_key: Any  # the value it is ordered by: the page's cursor holds it
    record: ClusterRecord


@dataclass(frozen=True, slots=True)
class PathRow:
    """Accounts in order, and between each two the identifier they share (its relationship
    type from the account, its key)."""

    account_ids: list[str]
    links: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AuditRow:
    at_ms: int  # the page's cursor holds it
    record: AuditRecord


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: str
    confidence: float
    since_ms: int | None
    why: MemberWhyRecord | None
    # The member itself, read with its membership: a review page asks for every member's
    # account, and one loader call per member made graphql-core await 100 results a page.
    account: AccountRecord


@dataclass(frozen=True, slots=True)
class SharedRow:
    rel: str
    key: str
    degree: int


@dataclass(frozen=True, slots=True)
class LinkedRow:
    id: str
    shared_count: int
    shared: list[SharedRow]


@dataclass(frozen=True, slots=True)
class HolderRow:
    id: str
    count: int | None
    first_seen: Any
    last_seen: Any


@dataclass(frozen=True, slots=True)
class SubgraphRows:
    """The drawn members (id, confidence) and, per identifier two of them share, its
    relationship type, key and the drawn members holding it."""

    accounts: list[tuple[str, float]]
    identifiers: list[tuple[str, str, list[str]]]
