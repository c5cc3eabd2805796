"""Pure parts of the API: cursors, page caps, error masking, tokens, introspection in prod, and
the named operations checked against the schema and its limits."""

import base64
from pathlib import Path
from types import SimpleNamespace

import pytest
from graphql import GraphQLError, parse, validate

from backend.api.graphql.cost import request_cost
from backend.api.graphql.errors import ClientError, should_mask
from backend.api.graphql.pagination import MAX_PAGE, decode_cursor, encode_cursor, page_size
from backend.api.graphql.schema import build_schema, schema
from backend.auth.roles import Role
from backend.auth.tokens import PREFIX, Principal, hash_token, parse_bearer
from backend.core.config import Settings

OPERATIONS = Path(__file__).resolve().parents[3] / "graphql" / "operations"


def test_cursors_round_trip_and_refuse_foreign_or_forged_ones() -> None:
    cursor = encode_cursor("cluster.members", 0.93, "a-0000001")
    assert decode_cursor("cluster.members", cursor, 2) == [0.93, "a-0000001"]
    assert decode_cursor("cluster.members", None, 2) is None
    with pytest.raises(ClientError, match="does not belong"):
        decode_cursor("banCandidates", cursor, 2)
    deep = base64.urlsafe_b64encode(b"[" * 5000).decode()  # was "Unexpected error"
    for forged in ("%%%", "bm90IGpzb24", encode_cursor("cluster.members", {"x": 1}, "a"), deep,
                   "[" * 5000):  # fmt: skip
        with pytest.raises(ClientError):
            decode_cursor("cluster.members", forged, 2)


def test_page_size_is_capped() -> None:
    assert page_size(1) == 1 and page_size(MAX_PAGE) == MAX_PAGE == 500
    for bad in (0, -1, MAX_PAGE + 1):
        with pytest.raises(ClientError, match="between 1 and 500"):
            page_size(bad)


def test_only_unexpected_errors_are_masked() -> None:
    assert should_mask(GraphQLError("boom", original_error=RuntimeError("cypher details")))
    assert not should_mask(GraphQLError("bad", original_error=ClientError("bad input")))
    assert not should_mask(GraphQLError("Cannot query field 'x' on type 'Query'."))


def test_bearer_tokens_are_parsed_strictly_and_stored_as_a_hash() -> None:
    token = PREFIX + "abc"
    assert parse_bearer(f"Bearer {token}") == token
    assert parse_bearer(f"bearer  {token} ") == token
    for bad in (None, "", token, f"Basic {token}", "Bearer other", f"Bearer {token}{'x' * 200}"):
        assert parse_bearer(bad) is None
    assert hash_token(token) != token and len(hash_token(token)) == 64


def _context(role: Role) -> SimpleNamespace:
    return SimpleNamespace(principal=Principal("tok_x", "unit", role))


def test_introspection_is_off_in_prod_only() -> None:
    query = "{ __schema { queryType { name } } }"
    prod = build_schema(Settings(ENV="prod", NEO4J_PASSWORD="real-password"))
    result = prod.execute_sync(query, context_value=_context(Role.ADMIN))
    assert result.data is None and "introspection" in str(result.errors[0]).lower()
    dev = build_schema(Settings(ENV="dev"))
    result = dev.execute_sync(query, context_value=_context(Role.ADMIN))
    assert result.errors is None and result.data == {"__schema": {"queryType": {"name": "Query"}}}


def test_the_role_rule_rejects_the_whole_operation_without_data() -> None:
    served = build_schema(Settings(ENV="dev"))
    result = served.execute_sync(
        "mutation { requestRefresh { taskId } }", context_value=_context(Role.ANALYST)
    )
    assert result.data is None
    assert [e.extensions for e in result.errors or []] == [{"code": "FORBIDDEN"}]
    anonymous = served.execute_sync("{ apiVersion }", context_value=SimpleNamespace(principal=None))
    assert anonymous.data is None


def test_named_operations_validate_and_fit_the_limits() -> None:
    files = sorted(OPERATIONS.glob("*.graphql"))
    assert {f.name for f in files} >= {
        "ban_feed.graphql", "cluster_review.graphql", "account_investigation.graphql",
    }  # fmt: skip
    defaults = Settings(ENV="dev")
    for path in files:
        document = parse(path.read_text(), max_tokens=defaults.GRAPHQL_MAX_TOKENS)
        assert validate(schema._schema, document) == [], path.name
        for definition in document.definitions:
            depth = _depth(definition.selection_set)  # type: ignore[attr-defined]
            assert depth <= defaults.GRAPHQL_MAX_DEPTH, (path.name, depth)
            # At the largest page every named operation stays within the cost limit.
            name = definition.name.value  # type: ignore[attr-defined]
            largest = {"first": MAX_PAGE, "limit": MAX_PAGE, "ids": ["x"] * MAX_PAGE}
            cost = request_cost(schema._schema, document, name, largest, MAX_PAGE)
            assert cost <= defaults.GRAPHQL_MAX_COST, (name, cost)


def test_cost_multiplies_pages_down_the_tree_and_applies_variable_defaults() -> None:
    members = "members(first: $m) { edges { node { accountId } } }"
    query = (
        f"query Q($m: Int = 10) {{ clusters(first: 20) {{ edges {{ node {{ {members} }} }} }} }}"
    )
    document = parse(query)
    # clusters: 20 x (1 + edges (1 + node (1 + members: m x (1 + edges (1 + node (1 + id))))))
    assert request_cost(schema._schema, document, "Q", {}, MAX_PAGE) == 20 * (3 + 10 * 4)
    assert request_cost(schema._schema, document, "Q", {"m": 500}, MAX_PAGE) == 20 * (3 + 500 * 4)
    # Fragments count as if written inline; aliases add up.
    spread = parse(
        "query Q { a: clusters(first: 20) { ...F } b: clusters(first: 20) { ...F } }"
        " fragment F on ClusterConnection { edges { node { id } } }"
    )
    assert request_cost(schema._schema, spread, "Q", {}, MAX_PAGE) == 2 * 20 * 4
    hostile = "{ " + " ".join(
        f"a{i}: clusters(first: 500) {{ edges {{ node {{ {members.replace('$m', '500')} }} }} }}"
        for i in range(15)
    ) + " }"  # fmt: skip
    assert request_cost(schema._schema, parse(hostile), None, {}, MAX_PAGE) > 15 * 500 * 500


def _depth(selection_set: object) -> int:
    selections = getattr(selection_set, "selections", None) or []
    return max((1 + _depth(getattr(s, "selection_set", None)) for s in selections), default=0)
