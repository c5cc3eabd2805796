"""The graph's vocabulary has one owner (`backend.graph.model`); the GraphQL enums that expose
it carry exactly its values, so a status or verdict added there cannot be missing here."""

from __future__ import annotations

from backend.api.graphql.query import VerdictFilter
from backend.api.graphql.types.cluster import ClusterStatus as ClusterStatusType
from backend.api.graphql.types.common import Verdict as VerdictType
from backend.graph.model import ClusterStatus, Verdict


def test_graphql_enums_mirror_the_model() -> None:
    assert {m.name: m.value for m in VerdictType} == {m.name: m.value for m in Verdict}
    assert {m.name: m.value for m in ClusterStatusType} == {m.name: m.value for m in ClusterStatus}
    assert {m.value for m in VerdictFilter} == {*(m.value for m in Verdict), "NONE"}
