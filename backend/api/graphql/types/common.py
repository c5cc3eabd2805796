"""Small types shared by accounts and clusters: verdicts, notes, identifier kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry

from backend.graph.model import LINKS
from backend.review.service import Verdict as VerdictValue


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


def to_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (what hot queries return: hydrating Neo4j temporals is slow) or a
    Neo4j temporal value to Python; absent to None."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value.to_native() if hasattr(value, "to_native") else None


@strawberry.type(description="The latest analyst verdict on an account or a cluster.")
class Decision:
    verdict: Verdict
    note: str | None
    set_by: str | None
    set_at: datetime | None


def decision(props: dict[str, Any]) -> Decision | None:
    if not props.get("verdict"):
        return None
    return Decision(
        verdict=Verdict(props["verdict"]), note=props.get("verdict_note"),
        set_by=props.get("verdict_by"), set_at=to_datetime(props.get("verdict_at")),
    )  # fmt: skip


@strawberry.type(description="An analyst's note on an account or a cluster.")
class Note:
    id: strawberry.ID
    text: str
    author: str
    at: datetime | None


def notes(rows: list[dict[str, Any]]) -> list[Note]:
    return [
        Note(id=strawberry.ID(r["note_id"]), text=r["text"], author=r["author"],
             at=to_datetime(r["at"]))
        for r in rows
    ]  # fmt: skip
