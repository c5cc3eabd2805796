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
