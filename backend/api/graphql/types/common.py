"""Small types shared by accounts, clusters and ban candidates: verdicts, notes, identifier
kinds, why a member is in its cluster."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from backend.graph.model import LINKS
from backend.graph.model import Verdict as VerdictValue
from backend.investigation.records import MemberWhyRecord, NoteRecord, VerdictRecord


@strawberry.enum(description="An analyst's decision.")
class Verdict(Enum):
    CONFIRMED_FRAUD = VerdictValue.CONFIRMED_FRAUD.value
    FALSE_POSITIVE = VerdictValue.FALSE_POSITIVE.value
    NEEDS_REVIEW = VerdictValue.NEEDS_REVIEW.value


@strawberry.enum(description="What accounts share; one per identifier node label.")
class IdentifierKind(Enum):
    PAYMENT_METHOD = "PaymentMethod"
    DEVICE = "Device"
    IP = "IP"
    SUBNET = "Subnet"
    ASN = "ASN"
    PROXY_PROVIDER = "ProxyProvider"
    EMAIL = "Email"
    EMAIL_DOMAIN = "EmailDomain"
    PHONE = "Phone"
    BILLING_ADDRESS = "BillingAddress"
    CLIENT_FINGERPRINT = "ClientFingerprint"
    PROMPT_TEMPLATE_BAND = "PromptTemplateBand"
    MODEL = "Model"


KIND_OF_REL = {rel: IdentifierKind(label) for rel, label in LINKS.items()}


@strawberry.type(description="The latest analyst verdict on an account or a cluster.")
class Decision:
    verdict: Verdict
    note: str | None
    set_by: str | None
    set_at: datetime | None


def decision(verdict: VerdictRecord | None) -> Decision | None:
    if verdict is None:
        return None
    return Decision(verdict=Verdict(verdict.verdict), note=verdict.note, set_by=verdict.set_by,
                    set_at=verdict.set_at)  # fmt: skip


@strawberry.type(description="An analyst's note on an account or a cluster.")
class Note:
    id: strawberry.ID
    text: str
    author: str
    at: datetime | None


def notes(records: list[NoteRecord]) -> list[Note]:
    return [Note(id=strawberry.ID(r.id), text=r.text, author=r.author, at=r.at) for r in records]


@strawberry.type(description="An identifier a member shares with its cluster.")
class MemberTie:
    kind: IdentifierKind
    value: str
    members: int = strawberry.field(description="Members of the cluster holding it, this one "
                                    "included.")  # fmt: skip
    holders: int = strawberry.field(description="All accounts holding it.")


@strawberry.type(
    description="Why an account is in its cluster, as the refresh that last changed its "
    "membership measured it: confidence = (1 - exp(-tieStrength)) x (0.6 + 0.4 x "
    "behaviourSimilarity)."
)
class MemberWhy:
    ties: list[MemberTie] = strawberry.field(description="Its strongest ties, strongest first.")
    tie_strength: float = strawberry.field(
        description="Sum over what it holds of the kind's weight x the share of the other "
        "holders inside the cluster. For an account that joined the cluster in the refresh "
        "that measured it, a card, device, email, phone or address counts only for holders "
        "that were in the cluster before it joined. For an account of a group so tied (a "
        "household) that is at most half of its cluster and none of whose members is tied "
        "to the rest of it, what the group shares among itself does not count."
    )
    behaviour_similarity: float = strawberry.field(
        description="Cosine of its capability mix to the cluster's mean mix. In a network "
        "an analyst confirmed, thin behaviour is not held against it: at least (n x cosine + "
        "6 x 0.75) / (n + 6) with n its exchanges (0.75: unknown; 6: the capabilities)."
    )


def member_why(why: MemberWhyRecord | None) -> MemberWhy | None:
    if why is None:
        return None
    return MemberWhy(
        ties=[
            MemberTie(kind=KIND_OF_REL[k], value=v, members=m, holders=d)
            for k, v, m, d in why.ties
            if k in KIND_OF_REL
        ],
        tie_strength=why.tie,
        behaviour_similarity=why.behaviour,
    )
