"""The two shapes a batched lookup takes: one row per key, or a list of rows per key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from neo4j import Record

from backend.investigation.repository import Reads, read, read_rows

Row = dict[str, Any]


def _row(record: Record) -> Row:
    """The record as a dict of its values as decoded. `Record.data()` walks every value again
    to turn graph objects into dicts (a seventh of the API's CPU on a 100-member page); these
    queries return maps, lists and scalars only."""
    return dict(zip(record.keys(), record.values(), strict=True))


async def _rows(reads: Reads, query: str, collected: bool, **params: Any) -> list[Row]:
    """Rows from a query returning one record per row, or all rows as one list (`collected`:
    `RETURN collect({...}) AS rows`, for page-sized reads; see `read_rows`)."""
    if collected:
        return await read_rows(reads, query, **params)
    return [_row(r) for r in await read(reads, query, **params)]


def one_per_key(
    reads: Reads, query: str, *, collected: bool = False
) -> Callable[[list[str]], Awaitable[list[Row | None]]]:
    async def load(keys: list[str]) -> list[Row | None]:
        found = {r["id"]: r for r in await _rows(reads, query, collected, ids=list(keys))}
        return [found.get(k) for k in keys]

    return load


def many_per_key(
    reads: Reads, query: str, *, collected: bool = False, **params: Any
) -> Callable[[list[str]], Awaitable[list[list[Row]]]]:
    async def load(keys: list[str]) -> list[list[Row]]:
        grouped: dict[str, list[Row]] = {}
        for r in await _rows(reads, query, collected, ids=list(keys), **params):
            grouped.setdefault(r["id"], []).append(r)
        return [grouped.get(k, []) for k in keys]

    return load
