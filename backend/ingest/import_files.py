"""A fold's write plan → CSV files for Neo4j's offline importer (`neo4j-admin database import`).

The bulk backfill writes what the incremental path's Cypher (`backend.ingest.repository`)
would: the same rows (`WritePlan`), the same properties with the same types, absent values left
out, detection's packed inputs included (`account_inputs`). One
header file per label and relationship type; every part of the fold writes its own data files
under them, so parts run in parallel and each node is written by exactly one part; the parts
are then joined into one data file per label and type (`join_parts`).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.graph.model import (
    ACCOUNT,
    ACCOUNT_INPUTS_PROPERTY,
    IDENTIFIER_LABELS,
    INPUT_COUNTERS,
    INPUT_DEGREES,
    INPUTS_DTYPE,
    LINKS,
    STRUCTURE,
)
from backend.ingest.columnar import LinkRows
from backend.ingest.plan import COUNTERS, IDENTIFIER_PROPERTIES, SIGNUP_PROPERTIES, WritePlan

ARRAY_DELIMITER = ";"
# The importer's caches (id mapping, relationship grouping) take what they are given, 90% of
# free memory by default; bounded so the whole backfill stays under 8 GiB at the full preset.
IMPORTER_OFF_HEAP = "4G"
PROPS_STAMP = "props_stamp"
_COPY_BUFFER = 8 << 20

# Property types the incremental path stores; everything else is a string.
_TYPES = {
    "asn": "long", "version": "long", "webmail": "boolean", "disposable": "boolean",
    "released_at": "datetime", "first_seen": "datetime", "last_seen": "datetime",
    "signup_at": "datetime", "events": "long", "hour_hist": "long[]", "count": "long",
    "distinct_ips": "long", "distinct_client_fingerprints": "long",
    "distinct_payment_methods": "long", **{name: "long" for name in COUNTERS},
    ACCOUNT_INPUTS_PROPERTY: "byte[]",
}  # fmt: skip

ACCOUNT_PROPERTIES: tuple[str, ...] = (
    "first_seen", "last_seen", "events", *SIGNUP_PROPERTIES, "signup_at", "signup_stamp",
    *COUNTERS, "hour_hist", "distinct_ips", "distinct_client_fingerprints",
    "distinct_payment_methods", ACCOUNT_INPUTS_PROPERTY,
)  # fmt: skip
# Properties a graph write sets when it creates the node (`MERGE ... ON CREATE`).
CREATED_WITH: dict[str, tuple[str, ...]] = {
    "IP": ("version",),
    "Subnet": ("version",),
    "Email": ("domain", "local_shape"),
    "EmailDomain": ("webmail", "disposable"),
    "Model": ("released_at",),
}
NODE_PROPERTIES: dict[str, tuple[str, ...]] = {
    label: (
        *CREATED_WITH.get(label, ()),
        *((*IDENTIFIER_PROPERTIES[label], PROPS_STAMP) if label in IDENTIFIER_PROPERTIES else ()),
    )
    for label in IDENTIFIER_LABELS
}
LINK_PROPERTIES = ("count", "first_seen", "last_seen")
DEGREES = {
    "USED_IP": "distinct_ips",
    "USED_CLIENT": "distinct_client_fingerprints",
    "PAID_WITH": "distinct_payment_methods",
}


class _Absent(float):
    """A property the graph does not hold. csv's QUOTE_NONNUMERIC quotes every non-number, None
    included (`""`, which the importer stores as an empty string); this "number" with no
    text is written as a bare empty field, which the importer reads as no property."""

    def __str__(self) -> str:
        return ""

    __repr__ = __str__


ABSENT = _Absent()


def _value(value: Any) -> Any:
    return ABSENT if value is None else value


def _column(name: str) -> str:
    kind = _TYPES.get(name, "string")
    return f"{name}:{kind}"


def node_header(label: str) -> list[str]:
    if label == ACCOUNT:
        return [f"id:ID({ACCOUNT})", *map(_column, ACCOUNT_PROPERTIES)]
    return [f"key:ID({label})", *map(_column, NODE_PROPERTIES[label])]


def relationship_header(rel: str) -> list[str]:
    if rel in LINKS:
        return [f":START_ID({ACCOUNT})", f":END_ID({LINKS[rel]})", *map(_column, LINK_PROPERTIES)]
    start, end = STRUCTURE[rel]
    return [f":START_ID({start})", f":END_ID({end})"]


def datetimes(ms: Sequence[int | None]) -> list[Any]:
    """Epoch milliseconds → ISO-8601 UTC text, vectorised (the importer's `datetime` input)."""
    if not ms:
        return []
    if all(t is not None for t in ms):
        text = np.array(ms, dtype="datetime64[ms]").astype(str)
        return [f"{value}Z" for value in text]
    return [ABSENT if t is None else f"{np.datetime64(t, 'ms')}Z" for t in ms]


# An instant's text from three small tables (day, second of the day, millisecond) instead of
# formatting each: a part writes two per link, 65M for the `full` preset.
MS_PER_DAY = 86_400_000
_SECONDS_OF_DAY = np.array(
    [f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)], dtype=object
)
_MILLISECONDS = np.array([f'{ms:03d}Z"' for ms in range(1000)], dtype=object)


def quoted_instants(ms: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """`datetimes`' text, quoted as the csv module quotes it, for whole arrays."""
    day, in_day = np.divmod(ms, MS_PER_DAY)
    days, index = np.unique(day, return_inverse=True)
    day_text = np.array(
        ['"' + d for d in days.astype("datetime64[D]").astype(str).tolist()], dtype=object
    )
    second, milli = np.divmod(in_day, 1000)
    return day_text[index] + _SECONDS_OF_DAY[second] + _MILLISECONDS[milli]  # type: ignore[no-any-return]


def quoted_text(values: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Text quoted as csv's QUOTE_NONNUMERIC quotes it (a quote doubled), value by value
    only when some value holds a quote."""
    if '"' in "".join(values.tolist()):
        quoted = np.empty(len(values), dtype=object)
        quoted[:] = ['"' + value.replace('"', '""') + '"' for value in values.tolist()]
        return quoted
    return '"' + values + '"'  # type: ignore[no-any-return]


def csv_lines(*columns: npt.NDArray[np.object_]) -> str:
    line = columns[0]
    for column in columns[1:]:
        line = line + "," + column
    return "".join((line + "\n").tolist())


@dataclass
class PartFiles:
    """What one part wrote: rows per file, and whether any text spans lines."""

    rows: Counter[str] = field(default_factory=Counter)
    multiline: bool = False


class _Writer:
    def __init__(self, root: Path, part: int) -> None:
        self.root = root
        self.part = part
        self.result = PartFiles()

    def write(self, kind: str, name: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        buffer = io.StringIO()
        # Text quoted, numbers bare, ABSENT bare and empty (see `_Absent`).
        csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(rows)
        self.write_text(kind, name, len(rows), buffer.getvalue())

    def write_text(self, kind: str, name: str, rows: int, text: str) -> None:
        if not rows:
            return
        folder = self.root / kind / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{self.part:05d}.csv").write_text(text, encoding="utf-8")
        self.result.rows[f"{kind}/{name}"] += rows
        # A value holding a line break (ids and free text may) makes the importer parse
        # quoted fields across lines, which is slower: only ask for it when needed.
        if text.count("\n") != rows or "\r" in text:
            self.result.multiline = True


def _bool(value: Any) -> Any:
    return ABSENT if value is None else ("true" if value else "false")


def write_part(
    root: Path,
    part: int,
    plan: WritePlan,
    nodes: dict[tuple[str, str], dict[str, Any]],
    links: dict[str, LinkRows] | None = None,
) -> PartFiles:
    """One part's accounts, links and identifier nodes (`nodes`: (label, key) → the
    properties set when creating it; enrichment and releases come from `plan`; the links
    from `links` when given, else from `plan`)."""
    if links is None:
        links = {rel: LinkRows.of(rows) for rel, rows in plan.links.items()}
    out = _Writer(root, part)
    _write_accounts(out, plan, links)
    for rel, rows in links.items():
        text = csv_lines(
            quoted_text(rows.account), quoted_text(rows.key), rows.n.astype(str).astype(object),
            quoted_instants(rows.first), quoted_instants(rows.last),
        )  # fmt: skip
        out.write_text("relationships", rel, len(rows), text)
    _write_identifiers(out, plan, nodes)
    structure: dict[str, set[tuple[str, str]]] = {rel: set() for rel in STRUCTURE}
    for row in plan.ip_structure:
        structure["IN_SUBNET"].add((row["ip"], row["subnet"]))
        if row["asn"] is not None:
            structure["IN_ASN"].add((row["ip"], row["asn"]))
        if row["proxy"] is not None:
            structure["EXIT_OF"].add((row["ip"], row["proxy"]))
    for row in plan.emails:
        structure["AT_DOMAIN"].add((row["key"], row["domain"]))
    for rel, pairs in structure.items():
        out.write("relationships", rel, pairs)  # any order: the importer sorts
    return out.result


def _write_accounts(out: _Writer, plan: WritePlan, links: dict[str, LinkRows]) -> None:
    signups = {row["id"]: row for row in plan.signups}
    counters = {row["id"]: row for row in plan.counters}
    degrees: dict[str, Counter[str]] = {
        rel: Counter(links[rel].account.tolist() if rel in links else ())
        for rel in (*DEGREES, *INPUT_DEGREES.values())
    }
    accounts = plan.accounts
    firsts = datetimes([row["first"] for row in accounts])
    lasts = datetimes([row["last"] for row in accounts])
    signed = datetimes([signups[row["id"]]["signup_at"] if row["id"] in signups else None
                        for row in accounts])  # fmt: skip
    inputs = account_inputs(accounts, signups, counters, degrees)
    rows = []
    no_signup = [ABSENT] * (len(SIGNUP_PROPERTIES) + 1)
    no_counters = [ABSENT] * (len(COUNTERS) + 1)
    for row, first, last, signup_at, packed in zip(
        accounts, firsts, lasts, signed, inputs, strict=True
    ):
        account = row["id"]
        signup = signups.get(account)
        usage = counters.get(account)
        rows.append(
            [
                account, first, last, row["n"],
                *([_value(signup["props"][name]) for name in SIGNUP_PROPERTIES] + [signup_at]
                  if signup else no_signup),
                signup["stamp"] if signup else ABSENT,
                *([usage["counters"][name] for name in COUNTERS]
                  + [ARRAY_DELIMITER.join(map(str, usage["hours"]))] if usage else no_counters),
                *(degrees[rel][account] for rel in DEGREES),
                packed,
            ]
        )  # fmt: skip
    out.write("nodes", ACCOUNT, rows)


def _seconds(ms: int) -> int:
    # Cypher's integer division (`epochMillis / 1000`) truncates toward zero.
    return (ms if ms >= 0 else ms + 999) // 1000


_SIGNED_BYTES = np.array([str(b) for b in range(-128, 128)], dtype=object)


def account_inputs(
    accounts: list[dict[str, Any]],
    signups: dict[str, dict[str, Any]],
    counters: dict[str, dict[str, Any]],
    degrees: dict[str, Counter[str]],
) -> list[str]:
    """Each account's `model.ACCOUNT_INPUTS_PROPERTY` as the importer's `byte[]` text: what
    `model.ACCOUNT_INPUTS_CYPHER` gives and `model.pack_inputs` packs on the incremental path.
    Written here, `db migrate` has none left to derive after the import (a query and a write
    per account: ~60 s of its 95-100 s at 1,024,000 accounts)."""
    if not accounts:
        return []
    no_usage = {"counters": dict.fromkeys(COUNTERS, 0), "hours": [0] * 24}
    values = []
    for row in accounts:
        account = row["id"]
        usage = counters.get(account, no_usage)
        signup_at = signups[account]["signup_at"] if account in signups else None
        values.append([
            *(usage["counters"][name] for name in INPUT_COUNTERS.values()),
            *(degrees[rel][account] for rel in INPUT_DEGREES.values()),
            _seconds(row["first"] if signup_at is None else signup_at),
            *usage["hours"],
        ])  # fmt: skip
    packed = np.asarray(values, dtype=INPUTS_DTYPE).view(np.int8).astype(np.int16) + 128
    return [ARRAY_DELIMITER.join(row) for row in _SIGNED_BYTES[packed].tolist()]


def _write_identifiers(
    out: _Writer, plan: WritePlan, nodes: dict[tuple[str, str], dict[str, Any]]
) -> None:
    enrichment = {
        (label, row["key"]): row for label, rows in plan.identifier_props.items() for row in rows
    }
    releases = dict(zip(
        (row["key"] for row in plan.model_releases),
        datetimes([row["released_at"] for row in plan.model_releases]),
        strict=True,
    ))  # fmt: skip
    by_label: dict[str, list[list[Any]]] = {label: [] for label in IDENTIFIER_LABELS}
    for (label, key), created in nodes.items():
        row: list[Any] = [key]
        for name in CREATED_WITH.get(label, ()):
            value = releases.get(key) if name == "released_at" else created.get(name)
            row.append(_bool(value) if _TYPES.get(name) == "boolean" else _value(value))
        if label in IDENTIFIER_PROPERTIES:
            props = enrichment.get((label, key))
            if props is None:
                row += [ABSENT] * (len(IDENTIFIER_PROPERTIES[label]) + 1)
            else:
                row += [_value(props["props"][name]) for name in IDENTIFIER_PROPERTIES[label]]
                row.append(props["stamp"])
        by_label[label].append(row)
    for label, rows in by_label.items():
        out.write("nodes", label, rows)


def write_headers(root: Path) -> None:
    for label in (ACCOUNT, *IDENTIFIER_LABELS):
        _header(root / "nodes" / label, node_header(label))
    for rel in (*LINKS, *STRUCTURE):
        _header(root / "relationships" / rel, relationship_header(rel))


def _header(folder: Path, columns: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "header.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").writerow(columns)


def join_parts(root: Path) -> None:
    """Join each label's and type's part files into one `data.csv`.

    Before its first record the importer parses a sample (about 1 MiB) of every file it is
    given, in one thread: at 38 parts the ~1,100 part files cost 100 s of a 1,033 s backfill
    (docs/benchmarks.md), and the number of parts grows with the input. Each part file ends
    with a line break, so joining them is a byte copy.
    """
    for kind in ("nodes", "relationships"):
        for folder in sorted(p for p in (root / kind).iterdir() if p.is_dir()):
            parts = sorted(folder.glob("part-*.csv"))
            if not parts:
                continue
            with (folder / "data.csv").open("wb") as out:
                for part in parts:
                    with part.open("rb") as f:
                        shutil.copyfileobj(f, out, _COPY_BUFFER)
                    part.unlink()


def importer_arguments(root: Path, multiline: bool) -> list[str]:
    """`--nodes` / `--relationships` for every label and type that has data files; with none
    (an empty input, or every line rejected), the accounts' header alone, so the importer
    builds an empty store (given no `--nodes` it stops on a usage error)."""
    args = []
    for kind, option in (("nodes", "--nodes"), ("relationships", "--relationships")):
        for folder in sorted(p for p in (root / kind).iterdir() if p.is_dir()):
            parts = sorted(p for p in folder.glob("*.csv") if p.name != "header.csv")
            if parts:
                files = ",".join(str(p) for p in (folder / "header.csv", *parts))
                args.append(f"{option}={folder.name}={files}")
    if not args:
        args.append(f"--nodes=Account={root / 'nodes' / 'Account' / 'header.csv'}")
    return [
        *args,
        f"--array-delimiter={ARRAY_DELIMITER}",
        f"--multiline-fields={'true' if multiline else 'false'}",
        "--id-type=string",
        f"--report-file={root.parent / 'import.report'}",  # else it lands in the working dir
        f"--max-off-heap-memory={IMPORTER_OFF_HEAP}",
    ]
