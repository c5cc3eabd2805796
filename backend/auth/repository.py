"""Cypher for API tokens. Only the SHA-256 of a token is stored; the token is shown once."""

from __future__ import annotations

CREATE_TOKEN = """
CREATE (t:ApiToken {id: $id, name: $name, role: $role, hash: $hash,
        created_at: datetime(), created_by: $created_by})
RETURN t.id AS id
"""

# Only live tokens authenticate; a revoked one keeps its row for the audit trail.
FIND_TOKEN = """
MATCH (t:ApiToken {hash: $hash}) WHERE t.revoked_at IS NULL
RETURN t.id AS id, t.name AS name, t.role AS role
"""

LIST_TOKENS = """
MATCH (t:ApiToken)
RETURN t.id AS id, t.name AS name, t.role AS role, t.created_at AS created_at,
       t.created_by AS created_by, t.revoked_at AS revoked_at
ORDER BY t.created_at, t.id
"""

REVOKE_TOKEN = """
MATCH (t:ApiToken) WHERE t.id = $ref OR t.name = $ref
SET t.revoked_at = coalesce(t.revoked_at, datetime())
RETURN t.id AS id, t.name AS name
"""

NAME_TAKEN = "MATCH (t:ApiToken {name: $name}) WHERE t.revoked_at IS NULL RETURN t.id AS id"
