"""API tokens in the graph. Only the SHA-256 of a token is stored; the token is shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import AsyncDriver, Driver

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


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    name: str
    role: str
    created_at: datetime | None
    created_by: str | None
    revoked_at: datetime | None


def _native(value: Any) -> datetime | None:
    return value.to_native() if value is not None else None


def name_taken(driver: Driver, database: str, name: str) -> bool:
    records, _, _ = driver.execute_query(NAME_TAKEN, name=name, database_=database)
    return bool(records)


def create_token(
    driver: Driver, database: str, *, id: str, name: str, role: str, hash: str, created_by: str
) -> None:
    driver.execute_query(
        CREATE_TOKEN, id=id, name=name, role=role, hash=hash, created_by=created_by,
        database_=database,
    )  # fmt: skip


def list_tokens(driver: Driver, database: str) -> list[TokenRow]:
    records, _, _ = driver.execute_query(LIST_TOKENS, database_=database)
    return [
        TokenRow(r["id"], r["name"], r["role"], _native(r["created_at"]), r["created_by"],
                 _native(r["revoked_at"]))
        for r in records
    ]  # fmt: skip


def revoke_token(driver: Driver, database: str, ref: str) -> list[str]:
    records, _, _ = driver.execute_query(REVOKE_TOKEN, ref=ref, database_=database)
    return [r["id"] for r in records]


async def find_token(driver: AsyncDriver, database: str, digest: str) -> TokenRow | None:
    """A live token by its hash (read from any member of a cluster: `routing_="r"`)."""
    records, _, _ = await driver.execute_query(
        FIND_TOKEN, hash=digest, database_=database, routing_="r"
    )
    if not records:
        return None
    r = records[0]
    return TokenRow(r["id"], r["name"], r["role"], None, None, None)
