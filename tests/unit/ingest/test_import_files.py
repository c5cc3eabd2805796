"""The importer files' encoding: what the importer reads back must be what Cypher stores."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.events.contract import parse_event
from backend.graph.model import (
    ACCOUNT_INPUTS_PROPERTY,
    INPUT_COUNTERS,
    INPUT_DEGREES,
    pack_inputs,
    unpack_inputs,
)
from backend.ingest.import_files import (
    csv_lines,
    datetimes,
    importer_arguments,
    join_parts,
    node_header,
    quoted_instants,
    quoted_text,
    write_headers,
    write_part,
)
from backend.ingest.plan import Fold, fold
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


def test_joined_parts_hold_every_row_once_and_the_importer_gets_one_data_file(
    tmp_path: Path,
) -> None:
    events = [parse_event(line) for line in population(accounts=9, usage_per_account=3)]
    write_headers(tmp_path)
    parts = fold(events).split_state(3)
    expected: dict[Path, list[str]] = {}
    for index, state in enumerate(parts):
        part = Fold()
        nodes = {(label, key): props for label, key, props in state.pop("nodes")}
        part.merge_state(state)
        write_part(tmp_path, index, part.build(), nodes)
    for path in sorted(tmp_path.glob("*/*/part-*.csv")):
        expected.setdefault(path.parent, []).extend(path.read_text().splitlines())
    assert len(expected[tmp_path / "nodes" / "Account"]) == 9

    join_parts(tmp_path)

    assert not list(tmp_path.glob("*/*/part-*.csv"))
    for folder, lines in expected.items():
        assert (folder / "data.csv").read_text().splitlines() == lines
    arguments = importer_arguments(tmp_path, multiline=False)
    accounts = tmp_path / "nodes" / "Account"
    assert f"--nodes=Account={accounts / 'header.csv'},{accounts / 'data.csv'}" in arguments
    # Labels and types without rows (no part files) are left out.
    assert len([a for a in arguments if a.startswith("--")]) == len(expected) + 5


def test_nothing_to_import_gives_the_importer_an_empty_account_file(tmp_path: Path) -> None:
    """An empty input (or one whose every line was rejected) still builds a store: an empty
    one. Given no `--nodes` at all, neo4j-admin stops on a usage error (exit 64)."""
    write_headers(tmp_path)
    arguments = importer_arguments(tmp_path, multiline=False)
    header = tmp_path / "nodes" / "Account" / "header.csv"
    assert [a for a in arguments if a.startswith(("--nodes", "--relationships"))] == [
        f"--nodes=Account={header}"
    ]
    assert header.read_text().startswith("id:ID(Account)")


def test_packed_detection_inputs_agree_with_the_rows_own_columns(tmp_path: Path) -> None:
    # `detection_inputs` is what `ACCOUNT_INPUTS_CYPHER` computes from the stored properties
    # and links: read it back from the file and recompute it from the same row and link files.
    raw = [json.loads(line) for line in population(accounts=30, usage_per_account=4)]
    last = {}
    for event in raw:
        last[event.get("account_id")] = max(
            event["occurred_at"], last.get(event.get("account_id"), "")
        )
    for event in raw:
        if event["type"] == "signup" and event["account_id"] < "acct-0010":
            # A signup that arrives after the account's usage counts from its own time.
            event["occurred_at"] = last[event["account_id"]]
    # Accounts known only from usage count from first seen.
    raw = [e for e in raw if not (e["type"] == "signup" and e["account_id"] < "acct-0005")]
    events = [parse_event(json.dumps(event)) for event in raw]
    write_headers(tmp_path)
    state = fold(events).split_state(1)[0]
    part = Fold()
    nodes = {(label, key): props for label, key, props in state.pop("nodes")}
    part.merge_state(state)
    write_part(tmp_path, 0, part.build(), nodes)
    header = [name.split(":")[0] for name in node_header("Account")]
    rows = list(csv.reader((tmp_path / "nodes" / "Account" / "part-00000.csv").open()))
    degree: dict[str, Counter[str]] = {}
    for rel in INPUT_DEGREES.values():
        path = tmp_path / "relationships" / rel / "part-00000.csv"
        degree[rel] = Counter(row[0] for row in csv.reader(path.open()))
    assert sum(degree["USED_IP"].values()) > len(rows)  # some accounts use several
    without_signup = 0
    for raw in rows:
        row = dict(zip(header, raw, strict=True))
        stored = bytes(int(b) % 256 for b in row[ACCOUNT_INPUTS_PROPERTY].split(";"))
        since = row["signup_at"] or row["first_seen"]
        without_signup += not row["signup_at"]
        hours = [int(h) for h in row["hour_hist"].split(";")] if row["hour_hist"] else [0] * 24
        expected = [
            *(int(row[name] or 0) for name in INPUT_COUNTERS.values()),
            *(degree[rel][row["id"]] for rel in INPUT_DEGREES.values()),
            int(datetime.fromisoformat(since).timestamp()),
            *hours,
        ]
        assert unpack_inputs([stored]).tolist() == [expected]
        assert pack_inputs([expected]) == [stored]
    assert len(rows) == 30 and 0 < without_signup < 30


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.integers(-(10**13), 10**13) | st.sampled_from([0, -1, 86_399_999, 86_400_000])),
    st.lists(st.text(max_size=6) | st.sampled_from(['a"b', '"', "x,y", "line\nbreak", ""])),
)
def test_link_text_is_what_the_csv_module_writes(ms: list[int], texts: list[str]) -> None:
    # Links are written from arrays (`quoted_instants`, `quoted_text`); every other row by the
    # csv module: the importer must read the same quoting and the same instants from both.
    def csv_line(row: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerow(row)
        return buffer.getvalue()

    instants = np.array(ms, dtype=np.int64)
    assert quoted_instants(instants).tolist() == [csv_line([t])[:-1] for t in datetimes(ms)]
    values = np.empty(len(texts), dtype=object)
    values[:] = texts
    assert quoted_text(values).tolist() == [csv_line([text])[:-1] for text in texts]
    n = np.arange(len(texts), dtype=np.int64)
    expected = "".join(csv_line([text, int(i)]) for text, i in zip(texts, n, strict=True))
    assert csv_lines(quoted_text(values), n.astype(str).astype(object)) == expected
