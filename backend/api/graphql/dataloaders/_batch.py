"""The two shapes a batched lookup takes: one row per key, or a list of rows per key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from backend.investigation.repository import Reads, read

Row = dict[str, Any]


def one_per_key(reads: Reads, query: str) -> Callable[[list[str]], Awaitable[list[Row | None]]]:
    async def load(keys: list[str]) -> list[Row | None]:
        records = await read(reads, query, ids=list(keys))
        found = {r["id"]: r.data() for r in records}
        return [found.get(k) for k in keys]

    return load


def many_per_key(
    reads: Reads, query: str, **params: Any
) -> Callable[[list[str]], Awaitable[list[list[Row]]]]:
    async def load(keys: list[str]) -> list[list[Row]]:
        records = await read(reads, query, ids=list(keys), **params)
        grouped: dict[str, list[Row]] = {}
        for r in records:
            grouped.setdefault(r["id"], []).append(r.data())
        return [grouped.get(k, []) for k in keys]

    return load
