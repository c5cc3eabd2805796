"""One raw event text → a valid `Event`, or a `Rejection` saying where, which field and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pydantic import ValidationError

from backend.events.contract import (
    BillingEvent,
    Event,
    SessionEvent,
    SignupEvent,
    UsageEvent,
    parse_event,
)
from backend.normalise.identifiers import (
    NormalisationError,
    normalise_email,
    normalise_ip,
    normalise_phone,
    normalise_token,
)


@dataclass(frozen=True, slots=True)
class Rejection:
    source: str  # file path, "http", "replay"
    location: str  # "line 12", "index 3"
    field: str  # dotted path of the offending field, or "" for the whole event
    reason: str
    raw: str
    event_id: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        where = f"{self.source}:{self.location}" if self.source else self.location
        field = f" field '{self.field}'" if self.field else ""
        return f"{where}:{field} {self.reason}"


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """The most useful (field, reason) of a pydantic error, without the union-tag noise."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in {"signup", "session", "billing", "usage", "model_release"}:
        loc = loc[1:]  # the discriminator's branch name, not a field
    if error["type"] == "union_tag_invalid":
        return "type", f"unknown event type {error['input']!r}" if isinstance(
            error["input"], str
        ) else error["msg"]
    if error["type"] == "union_tag_not_found":
        return "type", "missing required field 'type'"
    if error["type"] == "missing":
        return ".".join(loc), "required field is missing"
    if error["type"] in {"json_invalid", "json_type"}:
        return "", f"not valid JSON ({error['msg']})"
    reason = error["msg"]
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ".".join(loc), reason


def _event_id_of(raw: str) -> str:
    import json

    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # nested past Python's recursion limit
        return ""
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id[:128] if isinstance(event_id, str) else ""


# Optional identifier fields the fold turns into keys when present (non-empty).
_TOKENS: dict[type, tuple[str, ...]] = {
    SignupEvent: ("device_id",),
    SessionEvent: ("device_id",),
    BillingEvent: ("payment_fingerprint", "billing_address_hash"),
    UsageEvent: ("client_fingerprint",),
}


def _normalisable(event: Event) -> None:
    """Raise `_Unkeyable` naming the field when the fold (`backend.ingest.plan`) could not make
    a canonical key of a value it uses: a value that passed the contract's format check but
    normalises to nothing (an identifier of only whitespace) must be rejected here, at the edge,
    not fail the worker's fold after its batch's event ids were claimed."""
    field = ""
    try:
        for field in _TOKENS.get(type(event), ()):
            value = getattr(event, field)
            if value:
                normalise_token(value)
        if isinstance(event, SignupEvent):
            field = "email"
            normalise_email(event.email)
            if event.phone:
                field = "phone"
                normalise_phone(event.phone)
        ip = getattr(event, "ip", None)
        if ip is not None:
            field = "ip"
            normalise_ip(str(ip))
    except NormalisationError as exc:
        raise _Unkeyable(field, str(exc)) from exc


class _Unkeyable(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def validate(raw: str, source: str, location: str) -> Event | Rejection:
    try:
        event = parse_event(raw)
        _normalisable(event)
    except ValidationError as exc:
        field, reason = _first_error(exc)
        return Rejection(source, location, field, reason, raw, _event_id_of(raw))
    except _Unkeyable as exc:
        return Rejection(source, location, exc.field, exc.reason, raw, _event_id_of(raw))
    return event
