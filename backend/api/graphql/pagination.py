"""Relay-style connections with opaque keyset cursors, and the page-size cap.

A cursor is the sort key of the last row seen, tagged with the connection it belongs to, so it
stays valid while the data changes underneath (no offsets) and cannot be fed to another list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import strawberry

from backend.api.graphql.errors import ClientError

MAX_PAGE = 500
T = TypeVar("T")


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ClientError(f"`first` must be between 1 and {MAX_PAGE}")
    return first


def encode_cursor(tag: str, *key: Any) -> str:
    raw = json.dumps([tag, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str | None, arity: int) -> list[Any] | None:
    """The key encoded in `cursor` (None for the first page); ClientError if it is not ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise ClientError("invalid cursor") from exc
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != tag:
        raise ClientError(f"this cursor does not belong to {tag}")
    if not all(isinstance(v, str | int | float) for v in value[1:]):
        raise ClientError("invalid cursor")
    return value[1:]


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection(items: Sequence[tuple[T, str]], limit: int) -> Connection[T]:
    """`items` holds up to limit + 1 rows: the extra one only says that a next page exists."""
    page = list(items[:limit])
    return Connection(
        edges=[Edge(node=node, cursor=cursor) for node, cursor in page],
        page_info=PageInfo(
            has_next_page=len(items) > limit, end_cursor=page[-1][1] if page else None
        ),
    )
