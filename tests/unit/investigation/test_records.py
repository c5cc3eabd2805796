"""The read side's records decode what the queries return once, so the GraphQL types only map
fields: temporals to datetimes, stored JSON to values, absent to None or empty."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import neo4j.time

from backend.investigation.records import (
    HeldIdentifierRecord,
    IdentifierRecord,
    LineageRecord,
    MemberWhyRecord,
    ModelUseRecord,
    NoteRecord,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch milliseconds
DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_note_keeps_its_author_and_time() -> None:
    note = NoteRecord.of({"note_id": "n-1", "text": "shared cards", "author": "ana", "at": T0})
    assert note == NoteRecord("n-1", "shared cards", "ana", DAY0)


def test_lineage_of_a_cluster_with_none_is_empty_and_links_keep_their_order() -> None:
    assert LineageRecord.of(None) == LineageRecord([], [])
    row = {"parents": [{"cluster": "cl-a", "kind": "split", "at": T0}],
           "children": [{"cluster": "cl-b", "kind": "merge", "at": None},
                        {"cluster": "cl-c", "kind": "split", "at": T0}]}  # fmt: skip
    lineage = LineageRecord.of(row)
    assert [(x.cluster_id, x.kind, x.at) for x in lineage.parents] == [("cl-a", "split", DAY0)]
    assert [x.cluster_id for x in lineage.children] == ["cl-b", "cl-c"]
    assert lineage.children[0].at is None


def test_an_identifiers_attributes_leave_out_its_key_and_stamp_and_read_temporals_as_text() -> None:
    seen = neo4j.time.DateTime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    props = {"key": "203.0.113.7", "props_stamp": 9, "asn": 64500, "first_seen": seen}
    record = IdentifierRecord.of({"key": "203.0.113.7", "degree": 12, "props": props})
    assert record.key == "203.0.113.7" and record.degree == 12
    assert record.attributes == {"asn": 64500, "first_seen": seen.iso_format()}
    json.dumps(record.attributes)  # what the API sends as JSON


def test_a_held_identifier_and_a_model_use_read_epoch_milliseconds() -> None:
    held = HeldIdentifierRecord.of({"rel": "USED_IP", "key": "k", "degree": 3, "count": None,
                                    "first_seen": T0, "last_seen": None})  # fmt: skip
    assert (held.count, held.first_seen, held.last_seen) == (None, DAY0, None)
    use = ModelUseRecord.of({"model": "m-1", "count": None, "first_seen": T0, "last_seen": T0,
                             "released_at": None})  # fmt: skip
    assert (use.exchanges, use.first_used, use.released_at) == (0, DAY0, None)


def test_a_memberships_explanation_is_decoded_once() -> None:
    assert MemberWhyRecord.parse(None) is None and MemberWhyRecord.parse("") is None
    raw = json.dumps({"tie": 2.5, "behaviour": 0.93, "ties": [["PAID_WITH", "card-1", 4, 5]]})
    why = MemberWhyRecord.parse(raw)
    assert why == MemberWhyRecord([("PAID_WITH", "card-1", 4, 5)], 2.5, 0.93)
