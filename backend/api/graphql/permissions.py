"""Deny by default: every field of every type names the roles that may select it.

The check runs as a validation rule before execution, so a request that selects anything its
role may not see fails whole, with a FORBIDDEN error and no data (never half an answer). A field
missing from POLICY is forbidden to everyone, and `tests/unit/api/test_api_policy.py` fails on it.
Admin may do everything; `ingest` has no GraphQL access at all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from graphql import SKIP, FieldNode, GraphQLError, OperationDefinitionNode, ValidationRule

from backend.auth.roles import Role

A, B, ADMIN = Role.ANALYST, Role.BANTOOL, Role.ADMIN
READ = frozenset({A, B, ADMIN})  # analysts and ban tooling
ANALYST = frozenset({A, ADMIN})  # investigation detail, decisions
ADMIN_ONLY = frozenset({ADMIN})


def _all(roles: frozenset[Role], *fields: str) -> dict[str, frozenset[Role]]:
    return dict.fromkeys(fields, roles)


def _connection(node: str, roles: frozenset[Role]) -> dict[str, dict[str, frozenset[Role]]]:
    """A connection's structure is readable by whoever may read its nodes."""
    return {
        f"{node}Connection": _all(roles, "edges", "pageInfo"),
        f"{node}Edge": _all(roles, "node", "cursor"),
    }


POLICY: dict[str, dict[str, frozenset[Role]]] = {
    "Query": {
        **_all(
            READ,
            "apiVersion",
            "viewer",
            "cluster",
            "clusters",
            "clusterCount",
            "clusterEvents",
            "feedHead",
            "banCandidates",
        ),
        **_all(ANALYST, "account", "accounts", "identifier", "path", "auditLog"),
    },
    "Mutation": {
        **_all(ANALYST, "setClusterVerdict", "setAccountVerdict", "addNote"),
        "requestRefresh": ADMIN_ONLY,
    },
    # Ban tooling sees the cluster as a decision unit (risk, why, members); analysts see the
    # investigation detail behind it.
    "Cluster": {
        **_all(
            READ,
            "id",
            "status",
            "risk",
            "size",
            "createdAt",
            "refreshedAt",
            "runId",
            "mergedInto",
            "networkId",
            "features",
            "explanation",
            "evidence",
            "verdict",
            "lineage",
            "members",
        ),
        **_all(ANALYST, "notes", "subgraph"),
    },
    "ClusterMember": {**_all(READ, "accountId", "confidence", "since", "why"), "account": ANALYST},
    "MemberWhy": _all(READ, "ties", "tieStrength", "behaviourSimilarity"),
    "MemberTie": _all(READ, "kind", "value", "members", "holders"),
    "Feature": _all(READ, "name", "value"),
    "Contribution": _all(READ, "feature", "value", "contribution"),
    "Explanation": _all(READ, "bias", "logit", "contributions"),
    "Evidence": _all(READ, "kind", "value", "members", "degree"),
    "Lineage": _all(READ, "parents", "children"),
    "LineageLink": _all(READ, "clusterId", "kind", "at", "cluster"),
    # Ban tooling acts on a verdict (and who set it, when); the note is the analyst's reasoning.
    "Decision": {**_all(READ, "verdict", "setBy", "setAt"), **_all(ANALYST, "note")},
    "ClusterEvent": _all(
        READ,
        "seq",
        "type",
        "clusterId",
        "related",
        "sizeBefore",
        "sizeAfter",
        "verdict",
        "actor",
        "runId",
        "at",
        "cluster",
    ),
    "BanCandidate": _all(
        READ,
        "accountId",
        "clusterId",
        "confidence",
        "clusterRisk",
        "clusterVerdict",
        "accountVerdict",
        "reason",
        "why",
        "networkId",
    ),
    "Viewer": _all(READ, "name", "role"),
    "PageInfo": _all(READ, "hasNextPage", "endCursor"),
    **_connection("Cluster", READ),
    **_connection("ClusterMember", READ),
    **_connection("BanCandidate", READ),
    # Analyst-only: accounts and what they hold.
    "Account": _all(
        ANALYST,
        "id",
        "signupAt",
        "firstSeen",
        "lastSeen",
        "email",
        "emailDomain",
        "phone",
        "country",
        "orgName",
        "signupChannel",
        "signupIp",
        "signupIpKind",
        "userAgent",
        "events",
        "behaviour",
        "billing",
        "verdict",
        "identifiers",
        "cluster",
        "linkedAccounts",
        "notes",
    ),
    "Behaviour": _all(
        ANALYST,
        "sessions",
        "exchanges",
        "tokensIn",
        "tokensOut",
        "cotElicitations",
        "toolCalls",
        "capabilities",
        "hourHistogram",
        "distinctIps",
        "distinctClientFingerprints",
        "models",
    ),
    "CapabilityCount": _all(ANALYST, "capability", "exchanges"),
    "ModelUse": _all(
        ANALYST, "model", "exchanges", "firstUsed", "lastUsed", "releasedAt", "hoursAfterRelease"
    ),
    "Billing": _all(
        ANALYST,
        "charges",
        "chargesFailed",
        "chargesRefunded",
        "chargesDisputed",
        "amountMinor",
        "distinctPaymentMethods",
    ),
    "IdentifierLink": _all(
        ANALYST, "kind", "value", "degree", "count", "firstSeen", "lastSeen", "identifier"
    ),
    "Membership": _all(ANALYST, "clusterId", "confidence", "since", "cluster"),
    "LinkedAccount": _all(ANALYST, "accountId", "sharedCount", "shared", "account"),
    **_connection("LinkedAccount", ANALYST),
    "SharedIdentifier": _all(ANALYST, "kind", "value", "degree"),
    "Identifier": _all(ANALYST, "kind", "value", "degree", "attributes", "accounts"),
    "IdentifierHolder": _all(ANALYST, "accountId", "count", "firstSeen", "lastSeen", "account"),
    **_connection("IdentifierHolder", ANALYST),
    "Note": _all(ANALYST, "id", "text", "author", "at"),
    "Subgraph": _all(ANALYST, "accounts", "identifiers", "edges"),
    "SubgraphAccount": _all(ANALYST, "id", "confidence"),
    "SubgraphIdentifier": _all(ANALYST, "id", "kind", "value"),
    "SubgraphEdge": _all(ANALYST, "accountId", "identifierId"),
    "AccountPath": _all(ANALYST, "hops", "accountIds", "steps"),
    "PathStep": _all(ANALYST, "fromAccount", "via", "toAccount"),
    "PathIdentifier": _all(ANALYST, "kind", "value"),
    "AuditEntry": _all(
        ANALYST, "id", "at", "actor", "role", "action", "targetKind", "targetId", "before", "after"
    ),
    **_connection("AuditEntry", ANALYST),
    "RefreshRequest": _all(ADMIN_ONLY, "taskId"),
}


def allowed(role: Role | None, type_name: str, field: str) -> bool:
    if field.startswith("__") or type_name.startswith("__"):
        # __typename and introspection (which prod turns off altogether)
        return role in READ
    roles = POLICY.get(type_name, {}).get(field)
    return role is not None and roles is not None and role in roles


class _RoleRule(ValidationRule):
    """Subclassed per request with the caller's role and the operation it runs: the other
    operations of a multi-operation document (an operations file) are not executed, so
    they are not checked; fragments are, wherever they are used."""

    role: Role | None = None
    operation: str | None = None

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        if self.operation and node.name is not None and node.name.value != self.operation:
            return SKIP
        return None

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        """One error per forbidden field; what is below it is not reported again."""
        parent = self.context.get_parent_type()
        if parent is None:
            return None
        name = node.name.value
        if allowed(self.role, parent.name, name):
            return None
        who = f"role `{self.role}`" if self.role else "an anonymous caller"
        self.report_error(
            GraphQLError(
                f"{who} may not select {parent.name}.{name}",
                node,
                extensions={"code": "FORBIDDEN"},
            )
        )
        return SKIP


@lru_cache(maxsize=4096)
def role_rule(role: Role | None, operation: str | None) -> type[ValidationRule]:
    """One class per (role, operation), reused: validation results can then be cached."""
    return type("RoleRule", (_RoleRule,), {"role": role, "operation": operation})
