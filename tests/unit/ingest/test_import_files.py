"""The importer files' encoding: what the importer reads back must be what Cypher stores."""

from __future__ import annotations

import csv
from pathlib import Path

from backend.events.contract import parse_event
from backend.ingest.import_files import datetimes, node_header, write_headers, write_part
from backend.ingest.plan import fold
from tests.eventgen import population


def test_datetimes_are_utc_iso_with_milliseconds() -> None:
    assert datetimes([0, 1_770_000_000_123]) == [
        "1970-01-01T00:00:00.000Z",
        "2026-02-02T02:40:00.123Z",
    ]
    assert datetimes([]) == []


def test_absent_values_are_bare_empty_fields_and_empty_strings_stay_quoted(
    tmp_path: Path,
) -> None:
    events = [parse_event(line) for line in population(accounts=6, usage_per_account=2)]
    whole = fold(events)
    write_headers(tmp_path)
    nodes = {}
    for state in whole.split_state(1):
        nodes = {(label, key): props for label, key, props in state["nodes"]}
    written = write_part(tmp_path, 0, whole.build(), nodes)
    assert written.rows["nodes/Account"] == 6
    text = (tmp_path / "nodes" / "Account" / "part-00000.csv").read_text()
    row = next(csv.reader(text.splitlines()))
    header = node_header("Account")
    assert len(row) == len(header)
    raw = text.splitlines()[0].split(",")
    # `org_name` is absent from these signups: a bare empty field, never `""`.
    assert raw[header.index("org_name:string")] == ""
    assert header[0] == "id:ID(Account)"
