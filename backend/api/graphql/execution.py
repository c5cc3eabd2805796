"""Completes the plain parts of a response without graphql-core's per-field machinery.

graphql-core completes every field the same general way: a resolve-info object, strawberry's
resolver wrapper, two awaitable checks and a dispatch on the type, ~8 µs a field on this
machine. A 100-member `ClusterReview` page is ~2,900 fields, so that general path was most of the
API's CPU for it (docs/benchmarks.md, "API"). Most of those fields are plain: an attribute, or a
synchronous resolver that takes only its object.

For a list of objects whose whole selection is plain, the selection is compiled once per request
into nested closures, and every item is completed by them. Anything else goes graphql-core's
way: a field with arguments, or whose resolver takes `info` or is async; abstract types; `@defer`
and `@stream`; middleware. When an item raises or nulls a non-null field, the whole list goes
graphql-core's way again, so errors, their paths and null propagation are graphql-core's own.
The list is then resolved twice, which is safe because a plain resolver only reads its object
(`tests/unit/api/test_execution.py` holds the two ways to the same answers).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Complete = Callable[[Any], Any]
_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


class _Fallback(Exception):
    """This list needs graphql-core's general path (an error, or a null where none may be)."""


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed like graphql-core's own subfield memo: the field list is kept alive with its plan.
        self._plans: dict[tuple[int, int], tuple[FieldDetailsList, Complete | None]] = {}

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        middleware = self.middleware_manager is not None and self.middleware_manager.middlewares
        if position_context is None and isinstance(result, list) and not middleware:
            plan = self._list_plan(return_type, field_details_list)
            if plan is not None:
                try:
                    completed: list[Any] = plan(result)
                    return completed
                except Exception:  # noqa: S110 - graphql-core's path below reports it properly
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _list_plan(
        self, return_type: GraphQLList[GraphQLOutputType], details: FieldDetailsList
    ) -> Complete | None:
        key = (id(return_type), id(details))
        cached = self._plans.get(key)
        if cached is None:
            plan = None if _streamed(details) else self._compile(return_type, details)
            cached = self._plans[key] = (details, plan)
        return cached[1]

    def _compile(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Complete | None:
        if isinstance(type_, GraphQLNonNull):
            return _non_null(self._compile(type_.of_type, details))
        if isinstance(type_, GraphQLList):
            return _list(self._compile(type_.of_type, details))
        if is_leaf_type(type_):
            return _leaf(type_.coerce_output_value)
        if isinstance(type_, GraphQLObjectType) and type_.is_type_of is None:
            return self._object(type_, details)
        return None  # interfaces and unions: the runtime type needs resolving

    def _object(self, type_: GraphQLObjectType, details: FieldDetailsList) -> Complete | None:
        grouped, defer_usages, _ = self.collect_subfields(type_, details)
        if defer_usages:
            return None
        fields: list[tuple[str, Complete, Complete]] = []
        for key, field_details in grouped.items():
            name = field_details[0].node.name.value
            if name == "__typename":
                fields.append((key, _constant(type_.name), _identity))
                continue
            field = type_.fields.get(name)
            get = _getter(field) if field is not None else None
            if (
                get is None
                or _streamed(field_details)
                or any(f.node.arguments for f in field_details)
            ):
                return None
            assert field is not None
            complete = self._compile(field.type, field_details)
            if complete is None:
                return None
            fields.append((key, get, complete))

        def complete_object(value: Any) -> Any:
            if value is None:
                return None
            return {key: complete(get(value)) for key, get, complete in fields}

        return complete_object


def _streamed(details: FieldDetailsList) -> bool:
    """`@stream` is graphql-core's to deliver (`@skip`/`@include` are applied by then)."""
    return any(d.name.value == "stream" for f in details for d in f.node.directives or ())


def _getter(field: GraphQLField) -> Complete | None:
    """How to read a plain field from its object, or None when the field is not plain."""
    definition = field.extensions.get(_BACKREF)
    if field.args or not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    if getattr(field.resolve, "_is_default", False):  # strawberry's attribute-only resolver
        name = definition.python_name
        read = definition.default_resolver
        if read is builtins.getattr:
            return attrgetter(name)
        return lambda source: read(source, name)
    resolver = definition.base_resolver
    if (
        resolver is None
        or resolver.is_async
        or resolver.info_parameter is not None
        or resolver.arguments
    ):
        return None
    as_self = resolver.self_parameter is not None
    as_kwargs = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p]
    if as_self and not as_kwargs:
        return resolver  # called as strawberry calls it: resolver(source)

    def call(source: Any) -> Any:
        return resolver(*([source] if as_self else []), **dict.fromkeys(as_kwargs, source))

    return call


def _non_null(inner: Complete | None) -> Complete | None:
    if inner is None:
        return None

    def complete_non_null(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _Fallback
        return completed

    return complete_non_null


def _list(inner: Complete | None) -> Complete | None:
    if inner is None:
        return None

    def complete_list(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise _Fallback  # iterables, async iterables: graphql-core knows them all
        return [inner(item) for item in value]

    return complete_list


def _leaf(coerce: Complete) -> Complete:
    def complete_leaf(value: Any) -> Any:
        if value is None:
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Fallback
        return coerced

    return complete_leaf


def _constant(value: Any) -> Complete:
    return lambda _source: value


def _identity(value: Any) -> Any:
    return value
