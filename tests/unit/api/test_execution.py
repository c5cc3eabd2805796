"""Plain-field completion (`backend/api/graphql/execution.py`) against graphql-core's own, on a
hand-built schema: the same answers, errors and error paths, and the fast path taken only where
the selection is plain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.api.graphql.execution import PlainFieldsExecutionContext


@strawberry.enum
class Kind(Enum):
    CARD = "card"
    DEVICE = "device"


@strawberry.type
class Tie:
    kind: Kind
    value: str
    count: int


@strawberry.type
class Item:
    id: strawberry.ID
    score: float | None
    at: datetime
    ties: list[Tie]
    tags: list[str | None]
    required: int | None = strawberry.field(name="required", default=None)
    hidden: strawberry.Private[int] = 0

    @strawberry.field
    def label(self) -> str:
        return f"item-{self.id}"

    @strawberry.field
    def strict(self) -> int:
        if self.required is None:
            raise ValueError(f"item {self.id} has no value")
        return self.required

    @strawberry.field
    def must(self) -> int:
        return self.required  # type: ignore[return-value]  # None on purpose: a non-null error

    @strawberry.field
    def doubled(self, times: int = 2) -> int:
        return self.hidden * times

    @strawberry.field
    def path(self, info: strawberry.Info) -> str:
        return ".".join(str(k) for k in info.path.as_list())

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.hidden


def _items(broken: int | None = None, raising: int | None = None) -> list[Item]:
    at = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
    return [
        Item(
            id=strawberry.ID(str(i)),
            score=None if i % 3 == 0 else i / 7,
            at=at,
            ties=[
                Tie(kind=Kind.CARD if j % 2 else Kind.DEVICE, value=f"v{i}{j}", count=j)
                for j in range(i % 4)
            ],
            tags=["a", None] if i % 2 else [],
            required=None if i in (broken, raising) else i,
            hidden=i,
        )
        for i in range(12)
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, broken: int | None = None, raising: int | None = None) -> list[Item]:
        return _items(broken, raising)

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return [None, *_items()[:2]]


class Counting(PlainFieldsExecutionContext):
    compiled = 0

    def _list_plan(self, return_type: Any, details: Any) -> Any:
        plan = super()._list_plan(return_type, details)
        if plan is not None:
            Counting.compiled += 1
        return plan


PLAIN = Counting
STOCK = StrawberryGraphQLCoreExecutionContext


def _run(query: str, executor: type, **variables: Any) -> tuple[Any, list[Any]]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = asyncio.run(schema.execute(query, variable_values=variables))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


def _same(query: str, **variables: Any) -> tuple[Any, list[Any], int]:
    Counting.compiled = 0
    plain = _run(query, PLAIN, **variables)
    stock = _run(query, STOCK, **variables)
    assert plain == stock
    return (*plain, Counting.compiled)


ALL_PLAIN = """
query($withTags: Boolean!) {
  items {
    id score at label __typename
    first: id
    ties { kind value count }
    ...More
    tags @include(if: $withTags)
  }
}
fragment More on Item { strict ties { n: count } }
"""


@pytest.mark.parametrize("with_tags", [True, False])
def test_a_plain_selection_is_compiled_and_answers_the_same(with_tags: bool) -> None:
    data, errors, compiled = _same(ALL_PLAIN, withTags=with_tags)
    assert errors == []
    assert compiled >= 1
    first = data["items"][1]
    assert first["label"] == "item-1" and first["first"] == "1" and first["__typename"] == "Item"
    assert first["at"] == "2026-02-01T12:30:00+00:00"
    assert data["items"][3]["ties"][1] == {"kind": "CARD", "value": "v31", "count": 1, "n": 1}
    assert ("tags" in first) is with_tags


def test_a_raising_resolver_falls_back_with_graphql_cores_error_and_path() -> None:
    data, errors, _ = _same("{ items(raising: 4) { id strict } }")
    assert errors == [("item 4 has no value", ["items", 4, "strict"])]
    assert data is None  # a non-null list of non-null items: the null propagates to the root


def test_a_null_in_a_non_null_field_falls_back_and_propagates() -> None:
    _, errors, _ = _same("{ items(broken: 5) { id must } }")
    assert len(errors) == 1 and errors[0][1] == ["items", 5, "must"]
    _, errors, _ = _same("{ maybeItems { id must } }")
    assert errors == []


def test_nullable_items_and_nested_lists() -> None:
    data, errors, compiled = _same("{ maybeItems { id tags ties { kind } } }")
    assert errors == [] and compiled >= 1
    assert data["maybeItems"][0] is None


@pytest.mark.parametrize(
    "selection", ["doubled", "doubled(times: 3)", "path", "later", "id ... on Item { path }"]
)
def test_arguments_info_and_async_take_graphql_cores_path(selection: str) -> None:
    data, errors, compiled = _same(f"{{ items {{ {selection} }} }}")
    assert errors == [] and compiled == 0
    assert len(data["items"]) == 12


def test_a_list_from_a_field_with_arguments_is_still_compiled() -> None:
    """The list field's own arguments went to its resolver; completing its items needs none."""
    data, errors, compiled = _same("{ items(raising: 99) { id label } }")
    assert errors == [] and compiled == 1 and len(data["items"]) == 12
