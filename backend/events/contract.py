"""Event contract v1 (`shared/spec/events.md`) as pydantic models: a union discriminated on `type`.

Strict on types (a string is not a number), lenient on extras (unknown fields are ignored), as
the spec says: the platform may accept more, never less.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=4096)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{1,14}$")]
Email = Annotated[
    str, StringConstraints(pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$", max_length=320)
]
CardBin = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")]
CardLast4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
PromptSignature = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{16}$")]


@lru_cache(maxsize=262144)
def check_ip_address(value: str) -> str:
    """Checked once per distinct address: parsing was half of validation's cost (an account
    uses few addresses, a proxy exit is seen by thousands). The fold makes the canonical key."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("value is not a valid IPv4 or IPv6 address") from None
    return value


IpAddress = Annotated[
    str,
    AfterValidator(check_ip_address),
    WithJsonSchema({"type": "string", "format": "ipvanyaddress"}),
]


class IpKind(StrEnum):
    RESIDENTIAL = "residential"
    MOBILE = "mobile"
    BUSINESS = "business"
    HOSTING = "hosting"
    VPN = "vpn"
    PROXY = "proxy"
    TOR = "tor"
    UNKNOWN = "unknown"


class PaymentKind(StrEnum):
    CARD = "card"
    BANK = "bank"
    WALLET = "wallet"
    CRYPTO = "crypto"
    OTHER = "other"


class CardFunding(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"
    VIRTUAL = "virtual"
    UNKNOWN = "unknown"


class BillingStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


class Capability(StrEnum):
    REASONING = "reasoning"
    CODING = "coding"
    AGENTIC_TOOL_USE = "agentic_tool_use"
    VISION = "vision"
    CHAT = "chat"
    OTHER = "other"


# In the contract's order: one `cap_<name>` counter each on Account.
CAPABILITIES = tuple(c.value for c in Capability)


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, use_enum_values=False)

    event_id: Id
    occurred_at: AwareDatetime


class _AccountEvent(_Event):
    account_id: Id


class _IpEnrichment(BaseModel):
    """Optional on any event with `ip`: used when present, never guessed when absent."""

    ip_asn: NonNegativeInt | None = None
    ip_org: Text | None = None
    ip_country: Country | None = None
    ip_kind: IpKind | None = None
    proxy_provider: Text | None = None


class SignupEvent(_AccountEvent, _IpEnrichment):
    type: Literal["signup"]
    email: Email
    ip: IpAddress
    phone: Phone | None = None
    user_agent: Text | None = None
    device_id: Text | None = None
    country: Country | None = None
    org_name: Text | None = None
    signup_channel: Text | None = None


class SessionEvent(_AccountEvent, _IpEnrichment):
    type: Literal["session"]
    ip: IpAddress
    user_agent: Text | None = None
    device_id: Text | None = None
    api_key_id: Text | None = None


class BillingEvent(_AccountEvent, _IpEnrichment):
    type: Literal["billing"]
    payment_fingerprint: Id
    payment_kind: PaymentKind | None = None
    card_bin: CardBin | None = None
    card_last4: CardLast4 | None = None
    card_funding: CardFunding | None = None
    card_country: Country | None = None
    billing_country: Country | None = None
    billing_postal: Text | None = None
    billing_address_hash: Text | None = None
    amount_minor: NonNegativeInt | None = None
    currency: Currency | None = None
    status: BillingStatus = BillingStatus.SUCCEEDED
    ip: IpAddress | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _null_status_is_default(cls, value: object) -> object:
        return BillingStatus.SUCCEEDED if value is None else value


class UsageEvent(_AccountEvent, _IpEnrichment):
    type: Literal["usage"]
    model: Id
    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    ip: IpAddress | None = None
    api_key_id: Text | None = None
    client_fingerprint: Text | None = None
    prompt_signature: PromptSignature | None = None
    capability: Capability | None = None
    cot_elicitation: bool | None = None
    tool_calls: NonNegativeInt | None = None


class ModelReleaseEvent(_Event):
    type: Literal["model_release"]
    model: Id


Event = Annotated[
    SignupEvent | SessionEvent | BillingEvent | UsageEvent | ModelReleaseEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES = ("signup", "session", "billing", "usage", "model_release")


def parse_event(raw: str | bytes) -> Event:
    """Validate one JSON text; raises pydantic.ValidationError naming the field and the reason."""
    return EVENT_ADAPTER.validate_json(raw)


def json_schema() -> dict[str, object]:
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "Heracles event, contract v1"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
