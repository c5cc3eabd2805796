"""Everything checked before a resolver runs, in one extension: the caller's role rule, the
depth and alias limits, the request's cost (`cost.py`, computed per request: it depends on the
variables), and a cache of the validation outcome.

Validating a client's operations file costs more than executing a typical query, and clients
send the same few documents over and over, so the result is cached per (document, operation,
rules). The rule classes are built once (the role rule once per role and operation), never per
request, or no cache could match.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ASTValidationRule, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.schema import validate_document

from backend.api.graphql.cost import request_cost
from backend.api.graphql.pagination import MAX_PAGE
from backend.api.graphql.permissions import role_rule
from backend.auth.roles import Role

CACHE_SIZE = 512
CACHEABLE_CHARS = 32 * 1024


class Guard(SchemaExtension):
    def __init__(self, limits: tuple[type[ValidationRule], ...], max_cost: int) -> None:
        super().__init__()
        self.limits = limits
        self.max_cost = max_cost

    def _role(self) -> Role | None:
        principal = getattr(self.execution_context.context, "principal", None)
        return principal.role if principal is not None else None

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        rule = role_rule(self._role(), ec.operation_name)
        ec.validation_rules = (*ec.validation_rules, *self.limits, rule)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        assert ec.graphql_document is not None
        query = ec.query or ""
        # The rules (role, limits, prod's introspection ban) are part of the key.
        key = (query, ec.operation_name, ec.validation_rules)
        errors = _CACHE.get(key)
        if errors is None:
            errors = validate_document(ec.schema._schema, ec.graphql_document, ec.validation_rules)
            if len(query) <= CACHEABLE_CHARS:
                _CACHE[key] = errors
                if len(_CACHE) > CACHE_SIZE:
                    _CACHE.popitem(last=False)
        if not errors:
            cost = request_cost(
                ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables, MAX_PAGE
            )
            if cost > self.max_cost:
                errors = [GraphQLError(
                    f"query cost {cost:,} is over the limit of {self.max_cost:,} (objects it may "
                    "return: each page size multiplies what is under it): ask for smaller pages "
                    "or fewer aliases"
                )]  # fmt: skip
        ec.pre_execution_errors = errors
        yield


_CACHE: OrderedDict[
    tuple[str, str | None, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
] = OrderedDict()


def limit_rules(max_depth: int, max_aliases: int) -> tuple[type[ValidationRule], ...]:
    return (depth_rule(max_depth, None), alias_rule(max_aliases))
