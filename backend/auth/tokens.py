"""Bearer tokens: random, stored hashed, revocable, each with a name and one role.

A token has 256 random bits, so a plain SHA-256 is enough to store it (nothing to brute-force);
lookups go by the hash, so the secret is never compared byte by byte in Python.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from neo4j import AsyncDriver, Driver

from backend.auth import repository as q
from backend.auth.roles import Role

PREFIX = "hrc_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id and name (for the audit trail) and its role."""

    token_id: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created_at: datetime | None
    created_by: str | None
    revoked_at: datetime | None


class TokenError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 128:
        return None
    return token


def create_token(
    driver: Driver, database: str, name: str, role: Role, created_by: str = "cli"
) -> tuple[str, str]:
    """Returns (token id, the token itself): the only time the secret is ever visible."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    if q.name_taken(driver, database, name):
        raise TokenError(f"a live token is already named {name!r}; revoke it or pick another")
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(6)
    q.create_token(
        driver, database, id=token_id, name=name, role=role.value, hash=hash_token(token),
        created_by=created_by,
    )  # fmt: skip
    return token_id, token


def list_tokens(driver: Driver, database: str) -> list[TokenInfo]:
    return [
        TokenInfo(r.id, r.name, Role(r.role), r.created_at, r.created_by, r.revoked_at)
        for r in q.list_tokens(driver, database)
    ]


def revoke_token(driver: Driver, database: str, ref: str) -> list[str]:
    """Revokes by id or name; returns the ids revoked (empty: no such token)."""
    return q.revoke_token(driver, database, ref)


class Authenticator:
    """Resolves bearer tokens for the API. Hits are cached for `ttl_s` seconds (one Neo4j read
    per token per window instead of per request); a revocation therefore takes effect within
    `ttl_s`. Misses are never cached, so a new token works at once."""

    def __init__(self, driver: AsyncDriver, database: str, ttl_s: float) -> None:
        self._driver = driver
        self._database = database
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None) -> Principal | None:
        token = parse_bearer(authorization)
        if token is None:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await q.find_token(self._driver, self._database, digest)
        if row is None:
            self._cache.pop(digest, None)
            return None
        principal = Principal(row.id, row.name, Role(row.role))
        if self._ttl_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl_s, principal)
        return principal
