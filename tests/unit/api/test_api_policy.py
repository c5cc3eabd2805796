"""Deny by default: every field the schema exposes must have a role rule, and none is stale."""

from graphql import GraphQLObjectType

from backend.api.graphql.permissions import POLICY, allowed
from backend.api.graphql.schema import schema
from backend.auth.roles import Role


def _fields() -> set[tuple[str, str]]:
    out = set()
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(gql_type, GraphQLObjectType):
            continue
        out.update((name, field) for field in gql_type.fields)
    return out


def test_every_field_and_mutation_has_a_permission_rule() -> None:
    missing = sorted(f"{t}.{f}" for t, f in _fields() if f not in POLICY.get(t, {}))
    assert not missing, f"fields without a role rule (add them to POLICY): {missing}"


def test_no_rule_names_a_field_that_does_not_exist() -> None:
    stale = sorted(
        f"{t}.{f}" for t, fields in POLICY.items() for f in fields if (t, f) not in _fields()
    )
    assert not stale, f"POLICY entries for fields the schema does not have: {stale}"


def test_admin_may_do_everything_and_ingest_nothing() -> None:
    for type_name, field in _fields():
        assert allowed(Role.ADMIN, type_name, field)
        assert not allowed(Role.INGEST, type_name, field)
        assert not allowed(None, type_name, field)


def test_bantool_cannot_mutate_and_cannot_read_account_detail() -> None:
    mutations = [f for t, f in _fields() if t == "Mutation"]
    assert mutations
    assert not any(allowed(Role.BANTOOL, "Mutation", f) for f in mutations)
    assert not allowed(Role.BANTOOL, "Account", "email")
    assert not allowed(Role.BANTOOL, "Query", "account")
    assert allowed(Role.BANTOOL, "Query", "banCandidates")


def test_bantool_sees_a_verdict_but_never_its_note() -> None:
    """Notes are the analyst's reasoning (docs/api.md); ban tooling acts on the verdict."""
    assert allowed(Role.BANTOOL, "Decision", "verdict")
    assert not allowed(Role.BANTOOL, "Decision", "note")
    assert not allowed(Role.BANTOOL, "Cluster", "notes")
    assert allowed(Role.ANALYST, "Decision", "note")
