import json

import pytest

from backend.events.contract import UsageEvent
from backend.events.validation import Rejection, validate

GOOD = (
    '{"type":"usage","event_id":"u1","account_id":"a1","occurred_at":"2026-02-10T18:02:31Z",'
    '"model":"m","input_tokens":1,"output_tokens":2}'
)


def _reject(raw: str) -> Rejection:
    outcome = validate(raw, "f.jsonl", "line 7")
    assert isinstance(outcome, Rejection), outcome
    return outcome


def test_valid_event_passes() -> None:
    assert isinstance(validate(GOOD, "f", "line 1"), UsageEvent)


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ("{not json", "", "not valid JSON"),
        ("[1, 2]", "", ""),
        ('{"event_id":"x"}', "type", "missing required field 'type'"),
        (
            '{"type":"refund","event_id":"x"}',
            "type",
            "tag 'refund' found using 'type' does not match",
        ),
        (GOOD.replace('"input_tokens":1', '"input_tokens":"1"'), "input_tokens", "valid integer"),
        (GOOD.replace(',"model":"m"', ""), "model", "required field is missing"),
        (GOOD.replace("18:02:31Z", "18:02:31"), "occurred_at", "timezone"),
        (GOOD.replace('"model":"m"', '"model":"m","ip":"1.2.3.999"'), "ip", "IPv4 or IPv6"),
    ],
)
def test_rejections_name_field_and_reason(raw: str, field: str, reason: str) -> None:
    rejection = _reject(raw)
    assert rejection.field == field
    assert reason.lower() in rejection.reason.lower()
    assert rejection.location == "line 7" and rejection.source == "f.jsonl"
    assert rejection.raw == raw


def test_rejection_keeps_event_id_when_readable() -> None:
    raw = GOOD.replace('"input_tokens":1', '"input_tokens":-1')
    assert _reject(raw).event_id == "u1"
    assert "f.jsonl:line 7: field 'input_tokens'" in _reject(raw).describe()


def test_unnormalisable_email_is_rejected_at_the_edge() -> None:
    raw = json.dumps(
        {"type": "signup", "event_id": "s1", "account_id": "a", "occurred_at": "2026-01-01T00:00:00Z",
         "email": "+tag@example.com", "ip": "1.2.3.4"}
    )  # fmt: skip
    rejection = _reject(raw)
    assert rejection.field == "email"
    assert "empty mailbox" in rejection.reason


WHITESPACE_IDS = [
    ('"type":"session","ip":"1.2.3.4","device_id":"   "', "device_id"),
    ('"type":"signup","ip":"1.2.3.4","email":"a@b.io","device_id":"\\t"', "device_id"),
    ('"type":"billing","payment_fingerprint":" \\u2003 "', "payment_fingerprint"),
    ('"type":"billing","payment_fingerprint":"p","billing_address_hash":"  "',
     "billing_address_hash"),
    ('"type":"usage","model":"m","input_tokens":1,"output_tokens":1,"client_fingerprint":"\\u001c"',
     "client_fingerprint"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field"), WHITESPACE_IDS)
def test_identifier_of_only_whitespace_is_rejected_at_the_edge(fields: str, field: str) -> None:
    """Such a value passes the contract's format check but has no canonical key: the fold would
    fail on it after the batch's ids were claimed, taking the good events beside it along."""
    raw = '{"event_id":"e1","account_id":"a","occurred_at":"2026-02-01T00:00:00Z",' + fields + "}"
    rejection = _reject(raw)
    assert rejection.field == field
    assert "empty identifier" in rejection.reason
    assert rejection.event_id == "e1"


@pytest.mark.parametrize(("fields", "field"), WHITESPACE_IDS)
def test_whatever_passes_validation_folds(fields: str, field: str) -> None:
    from backend.ingest.plan import fold

    raw = '{"event_id":"e1","account_id":"a","occurred_at":"2026-02-01T00:00:00Z",' + fields + "}"
    fixed = raw.replace('"   "', '"d1"').replace('"\\t"', '"d1"').replace('" \\u2003 "', '"p"')
    fixed = fixed.replace('"  "', '"h"').replace('"\\u001c"', '"c"')
    event = validate(fixed, "f", "line 1")
    assert not isinstance(event, Rejection), event
    assert fold([event]).events == 1
