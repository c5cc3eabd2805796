"""The worker's fold isolates an event it cannot fold (the safety net behind edge validation)."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.events.contract import SessionEvent, UsageEvent
from backend.ingest.service import fold_isolating


def test_an_event_that_fails_the_fold_is_rejected_alone() -> None:
    at = datetime(2026, 2, 1, tzinfo=UTC)
    good = UsageEvent(type="usage", event_id="u1", account_id="a", occurred_at=at, model="m",
                      input_tokens=1, output_tokens=1)  # fmt: skip
    # model_construct skips validation: an event validation would (now) have refused.
    bad = SessionEvent.model_construct(type="session", event_id="s1", account_id="b",
                                       occurred_at=at, ip="1.2.3.4", device_id="   ")  # fmt: skip
    folded, kept, rejected = fold_isolating(
        [(good, "good-raw", "item 0"), (bad, "bad-raw", "item 1")], "http"
    )
    assert [raw for _, raw, _ in kept] == ["good-raw"]
    assert folded.events == 1 and set(folded.accounts) == {"a"}
    assert len(rejected) == 1
    event, r = rejected[0]
    assert event is bad
    assert (r.source, r.location, r.raw, r.event_id) == ("http", "item 1", "bad-raw", "s1")
    assert "empty identifier" in r.reason
