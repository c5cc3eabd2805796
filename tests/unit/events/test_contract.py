import json

import pytest
from pydantic import ValidationError

from backend.events.contract import (
    EVENT_TYPES,
    BillingEvent,
    BillingStatus,
    ModelReleaseEvent,
    SignupEvent,
    UsageEvent,
    json_schema,
    parse_event,
)
from tests.paths import EXAMPLES


def _example(kind: str) -> dict[str, object]:
    for line in EXAMPLES.read_text().splitlines():
        value = json.loads(line)
        if value["type"] == kind:
            return dict(value)
    raise AssertionError(kind)


def test_every_example_line_validates_and_covers_every_type() -> None:
    seen = set()
    for line in EXAMPLES.read_text().splitlines():
        if line.strip():
            seen.add(parse_event(line).type)
    assert seen == set(EVENT_TYPES)


def test_fields_parse_to_the_spec_types() -> None:
    usage = parse_event(json.dumps(_example("usage")))
    assert isinstance(usage, UsageEvent)
    assert usage.input_tokens == 1840 and usage.cot_elicitation is True
    assert usage.occurred_at.utcoffset() is not None
    billing = parse_event(json.dumps({**_example("billing"), "status": None}))
    assert isinstance(billing, BillingEvent) and billing.status is BillingStatus.SUCCEEDED
    release = parse_event(json.dumps(_example("model_release")))
    assert isinstance(release, ModelReleaseEvent)


def test_billing_status_defaults_to_succeeded() -> None:
    event = _example("billing")
    del event["status"]
    parsed = parse_event(json.dumps(event))
    assert isinstance(parsed, BillingEvent) and parsed.status is BillingStatus.SUCCEEDED


def test_extra_fields_are_ignored() -> None:
    parsed = parse_event(json.dumps({**_example("signup"), "shoe_size": 44, "nested": {"a": 1}}))
    assert isinstance(parsed, SignupEvent)
    assert not hasattr(parsed, "shoe_size")


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("usage", {"input_tokens": "1840"}, "input_tokens"),  # a string is not a number
        ("usage", {"input_tokens": -1}, "input_tokens"),
        ("usage", {"input_tokens": 1.5}, "input_tokens"),
        ("usage", {"cot_elicitation": "yes"}, "cot_elicitation"),
        ("usage", {"prompt_signature": "9f3a0c4412be7d0"}, "prompt_signature"),
        ("usage", {"capability": "poetry"}, "capability"),
        ("signup", {"ip": "300.1.2.3"}, "ip"),
        ("signup", {"email": "not-an-email"}, "email"),
        ("signup", {"phone": "0044 20 7946 0000"}, "phone"),
        ("signup", {"country": "sg"}, "country"),
        ("signup", {"occurred_at": "2026-02-01T09:12:44"}, "occurred_at"),  # no offset
        ("signup", {"occurred_at": 1769937164}, "occurred_at"),
        ("signup", {"event_id": ""}, "event_id"),
        ("signup", {"account_id": "x" * 129}, "account_id"),
        ("billing", {"card_bin": "12345"}, "card_bin"),
        ("billing", {"card_funding": "gift"}, "card_funding"),
        ("billing", {"currency": "usd"}, "currency"),
        ("billing", {"amount_minor": -5}, "amount_minor"),
        ("session", {"ip_kind": "satellite"}, "ip_kind"),
    ],
)
def test_wrong_types_and_formats_are_rejected_naming_the_field(
    kind: str, change: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps({**_example(kind), **change}))
    assert field in {str(part) for error in info.value.errors() for part in error["loc"]}


@pytest.mark.parametrize(
    ("kind", "missing"),
    [("signup", "email"), ("signup", "ip"), ("session", "ip"), ("billing", "payment_fingerprint"),
     ("usage", "model"), ("usage", "output_tokens"), ("usage", "account_id"),
     ("model_release", "model"), ("signup", "event_id"), ("signup", "occurred_at")],
)  # fmt: skip
def test_required_fields(kind: str, missing: str) -> None:
    event = _example(kind)
    del event[missing]
    with pytest.raises(ValidationError):
        parse_event(json.dumps(event))


def test_model_release_needs_no_account() -> None:
    assert parse_event(json.dumps(_example("model_release"))).type == "model_release"


def test_json_schema_export_describes_every_type() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    for kind in EVENT_TYPES:
        assert f'"{kind}"' in text
    assert schema["discriminator"]["propertyName"] == "type"  # type: ignore[index]


def test_schema_events_command_prints_the_json_schema() -> None:
    from typer.testing import CliRunner

    from backend.cli.main import app

    result = CliRunner().invoke(app, ["schema", "events"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json_schema()
