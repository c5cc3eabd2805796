"""What a request would cost, computed from the document and its variables before anything runs.

Depth and alias limits bound a document's shape, not its size: 15 aliases of
`clusters(first: 500) { members(first: 500) { account { identifiers } } }` stay within both and
ask for 3.75 million accounts. The cost is the number of objects a request may resolve: every
field counts once per parent object, and a field taking `first`, `limit` or `ids` multiplies
what is under it by the page it asks for (its default when not given). Lists without a page
argument (a page's `edges`, a cluster's `evidence`) are bounded by their parent's page and do
not multiply again.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values

PAGE_ARGUMENTS = ("first", "limit")


def request_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    max_page: int,
) -> int:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or
              (o.name is not None and o.name.value == operation_name)]  # fmt: skip
    if not chosen:
        return 0
    operation = chosen[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    # The operation's own defaults apply where a variable is not given (`$first: Int = 100`);
    # variables that do not coerce are a validation error, costed at the largest page.
    values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    coerced: dict[str, Any] = {} if isinstance(values, list) else dict(values.coerced)
    walk = _Walk(schema, fragments, coerced, max_page)
    return walk.selections(operation.selection_set, root, set())


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page: int,
    ) -> None:
        self.schema, self.fragments = schema, fragments
        self.variables, self.max_page = variables, max_page

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, seen: set[str]
    ) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, seen)
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selections(node.selection_set, target or parent, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # cycles are a validation error
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selections(fragment.selection_set, target, seen | {name})
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, seen: set[str]) -> int:
        definition = (
            parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
        )
        if definition is None:  # __typename, or unknown (validation reports it)
            return 1
        inner = 0
        if node.selection_set is not None:
            inner = self.selections(node.selection_set, get_named_type(definition.type), seen)
        return self.page(node, definition) * (1 + inner)

    def page(self, node: FieldNode, definition: GraphQLField) -> int:
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in (*PAGE_ARGUMENTS, "ids"):
            arg = definition.args.get(name)
            if arg is None:
                continue
            value = (
                value_from_ast(given[name], arg.type, self.variables)
                if name in given
                else arg.default_value
            )
            if name == "ids":
                return len(value) if isinstance(value, list) else self.max_page
            if isinstance(value, int) and value > 0:
                return min(value, self.max_page)
            return self.max_page
        return 1
