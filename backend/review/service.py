"""Verdicts and notes, each written with its audit entry in one transaction."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from neo4j import AsyncDriver, AsyncManagedTransaction

from backend.auth.tokens import Principal
from backend.graph.model import Verdict
from backend.review import repository as q

MAX_NOTE_CHARS = 4000


class TargetKind(StrEnum):
    CLUSTER = "cluster"
    ACCOUNT = "account"


class NotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class AddedNote:
    id: str
    text: str
    at_ms: int


async def _audit(
    tx: AsyncManagedTransaction, who: Principal, action: str, kind: TargetKind, target: str,
    before: dict[str, Any], after: dict[str, Any], now: int,
) -> None:  # fmt: skip
    await q.write_audit(
        tx, now, id="aud_" + secrets.token_hex(8), actor=who.name, token_id=who.token_id,
        role=who.role.value, action=action, target_kind=kind.value, target_id=target,
        before=json.dumps(before, sort_keys=True), after=json.dumps(after, sort_keys=True),
    )  # fmt: skip


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters")
    return note or None


async def set_verdict(
    driver: AsyncDriver, database: str, who: Principal, kind: TargetKind, target: str,
    verdict: Verdict, note: str | None,
) -> None:  # fmt: skip
    """A cluster verdict also goes on the change feed (`verdict_set`), which ban tooling polls."""
    note = _clean_note(note)
    cluster = kind is TargetKind.CLUSTER

    async def work(tx: AsyncManagedTransaction) -> None:
        now = int(time.time() * 1000)
        before = await q.read_verdict(tx, cluster, target)
        if before is None:
            raise NotFound(f"no {kind.value} {target!r}")
        await q.set_verdict(tx, cluster, target, verdict.value, note, who.name, now)
        after = {"verdict": verdict.value, "note": note, "by": who.name}
        if cluster:
            await q.append_verdict_event(tx, target, verdict.value, who.name, now)
        await _audit(tx, who, f"set_{kind.value}_verdict", kind, target, before, after, now)

    async with driver.session(database=database) as session:
        await session.execute_write(work)


async def add_note(
    driver: AsyncDriver, database: str, who: Principal, kind: TargetKind, target: str, text: str
) -> AddedNote:
    cleaned = _clean_note(text)
    if cleaned is None:
        raise ValueError("a note needs some text")
    note_id = "note_" + secrets.token_hex(8)

    async def work(tx: AsyncManagedTransaction) -> AddedNote:
        now = int(time.time() * 1000)
        found = await q.add_note(
            tx, kind is TargetKind.CLUSTER, target, note_id, cleaned, who.name, now
        )
        if not found:
            raise NotFound(f"no {kind.value} {target!r}")
        after = {"note_id": note_id, "text": cleaned}
        await _audit(tx, who, "add_note", kind, target, {}, after, now)
        return AddedNote(note_id, cleaned, now)

    async with driver.session(database=database) as session:
        return await session.execute_write(work)


async def audit_refresh_request(
    driver: AsyncDriver, database: str, who: Principal, task_id: str
) -> None:
    async def work(tx: AsyncManagedTransaction) -> None:
        await _audit(
            tx, who, "request_refresh", TargetKind.CLUSTER, "*", {}, {"task_id": task_id},
            int(time.time() * 1000),
        )  # fmt: skip

    async with driver.session(database=database) as session:
        await session.execute_write(work)
