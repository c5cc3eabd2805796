"""The two shapes a batched lookup takes: one row per key, or a list of rows per key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from neo4j import Record

from backend.investigation.repository import Reads, read

Row = dict[str, Any]


def _row(record: Record) -> Row:
    """The record as a dict of its values as decoded. `Record.data()` walks every value again
    to turn graph objects into dicts (a seventh of the API's CPU on a 100-member page); these
    queries return maps, lists and scalars only."""
    return dict(zip(record.keys(), record.values(), strict=True))


def one_per_key(reads: Reads, query: str) -> Callable[[list[str]], Awaitable[list[Row | None]]]:
    async def load(keys: list[str]) -> list[Row | None]:
        records = await read(reads, query, ids=list(keys))
        found = {r["id"]: _row(r) for r in records}
        return [found.get(k) for k in keys]

    return load


def many_per_key(
    reads: Reads, query: str, **params: Any
) -> Callable[[list[str]], Awaitable[list[list[Row]]]]:
    async def load(keys: list[str]) -> list[list[Row]]:
        records = await read(reads, query, ids=list(keys), **params)
        grouped: dict[str, list[Row]] = {}
        for r in records:
            grouped.setdefault(r["id"], []).append(_row(r))
        return [grouped.get(k, []) for k in keys]

    return load
