"""The audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from backend.investigation.records import AuditRecord


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


def audit_entry(e: AuditRecord) -> AuditEntry:
    return AuditEntry(
        id=strawberry.ID(e.id), at=e.at, actor=e.actor, role=e.role, action=e.action,
        target_kind=e.target_kind, target_id=e.target_id, before=JSON(e.before),
        after=JSON(e.after),
    )  # fmt: skip
