"""The four roles. What each may read or change is the GraphQL policy table's business
(`backend/api/graphql/permissions.py`); this module only names them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ANALYST = "analyst"  # read everything, set verdicts, write notes
    BANTOOL = "bantool"  # ban candidates, clusters, members, change feed; read-only
    INGEST = "ingest"  # POST /v1/events only
    ADMIN = "admin"  # everything, refresh, tokens


INGEST_ROLES = frozenset({Role.INGEST, Role.ADMIN})
