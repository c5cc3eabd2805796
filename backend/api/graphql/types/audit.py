"""The audit trail: who changed what, when, from what to what."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from backend.api.graphql.types.common import to_datetime


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    at: datetime | None
    actor: str = strawberry.field(description="The token's name.")
    role: str
    action: str
    target_kind: str
    target_id: str
    before: JSON
    after: JSON


def audit_entry(p: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=strawberry.ID(p["id"]), at=to_datetime(p.get("at")), actor=p["actor"],
        role=p["role"], action=p["action"], target_kind=p["target_kind"],
        target_id=p["target_id"], before=JSON(_loads(p.get("before"))),
        after=JSON(_loads(p.get("after"))),
    )  # fmt: skip


def _loads(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else None
