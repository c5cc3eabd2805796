"""Analyst decisions in the graph. Each mutation runs in one transaction with its audit entry
(and, for cluster verdicts, its change-feed event), so none can land without the others.

Detection's write-back never touches `verdict*` properties or notes, so a refresh keeps them.
"""

from __future__ import annotations

from typing import Any

from neo4j import AsyncManagedTransaction

from backend.graph.model import CLUSTER_EVENTS_SEQUENCE, reserve

READ_CLUSTER_VERDICT = """
MATCH (c:Cluster {id: $id})
RETURN c.verdict AS verdict, c.verdict_note AS note, c.verdict_by AS by, c.verdict_at AS at
"""

SET_CLUSTER_VERDICT = """
MATCH (c:Cluster {id: $id})
SET c.verdict = $verdict, c.verdict_note = $note, c.verdict_by = $actor,
    c.verdict_at = datetime({epochMillis: $now})
"""

READ_ACCOUNT_VERDICT = """
MATCH (a:Account {id: $id})
RETURN a.verdict AS verdict, a.verdict_note AS note, a.verdict_by AS by, a.verdict_at AS at
"""

SET_ACCOUNT_VERDICT = """
MATCH (a:Account {id: $id})
SET a.verdict = $verdict, a.verdict_note = $note, a.verdict_by = $actor,
    a.verdict_at = datetime({epochMillis: $now})
"""

# The same gap-free counter detection's write-back uses (`graph.model.reserve`).
APPEND_VERDICT_EVENT = f"""
{reserve(CLUSTER_EVENTS_SEQUENCE, "1")}MATCH (c:Cluster {{id: $cluster_id}})
CREATE (:ClusterEvent {{seq: base + 1, type: 'verdict_set', cluster_id: $cluster_id, related: [],
        size_before: c.size, size_after: c.size, verdict: $verdict, actor: $actor,
        at: datetime({{epochMillis: $now}})}})
"""

ADD_CLUSTER_NOTE = """
MATCH (c:Cluster {id: $target})
CREATE (n:Note {id: $id, text: $text, author: $actor, at: datetime({epochMillis: $now})})
CREATE (n)-[:ABOUT]->(c)
RETURN n.id AS id
"""

ADD_ACCOUNT_NOTE = """
MATCH (a:Account {id: $target})
CREATE (n:Note {id: $id, text: $text, author: $actor, at: datetime({epochMillis: $now})})
CREATE (n)-[:ABOUT]->(a)
RETURN n.id AS id
"""

WRITE_AUDIT = """
CREATE (:AuditEntry {id: $id, at: datetime({epochMillis: $now}), actor: $actor,
        token_id: $token_id, role: $role, action: $action, target_kind: $target_kind,
        target_id: $target_id, before: $before, after: $after})
"""


# --- run inside the caller's transaction: a decision and its audit entry commit together ----


async def read_verdict(
    tx: AsyncManagedTransaction, cluster: bool, id: str
) -> dict[str, Any] | None:
    """The target's current verdict, note, author and time (temporals as ISO text), or None
    when there is no such target."""
    query = READ_CLUSTER_VERDICT if cluster else READ_ACCOUNT_VERDICT
    record = await (await tx.run(query, id=id)).single()
    if record is None:
        return None
    return {
        k: (v.iso_format() if hasattr(v, "iso_format") else v) for k, v in record.data().items()
    }


async def set_verdict(
    tx: AsyncManagedTransaction, cluster: bool, id: str, verdict: str, note: str | None,
    actor: str, now: int,
) -> None:  # fmt: skip
    query = SET_CLUSTER_VERDICT if cluster else SET_ACCOUNT_VERDICT
    await tx.run(query, id=id, verdict=verdict, note=note, actor=actor, now=now)


async def append_verdict_event(
    tx: AsyncManagedTransaction, cluster_id: str, verdict: str, actor: str, now: int
) -> None:
    await tx.run(APPEND_VERDICT_EVENT, cluster_id=cluster_id, verdict=verdict, actor=actor, now=now)


async def add_note(
    tx: AsyncManagedTransaction, cluster: bool, target: str, id: str, text: str, actor: str,
    now: int,
) -> bool:  # fmt: skip
    """False when there is no such target."""
    query = ADD_CLUSTER_NOTE if cluster else ADD_ACCOUNT_NOTE
    record = await (
        await tx.run(query, target=target, id=id, text=text, actor=actor, now=now)
    ).single()
    return record is not None


async def write_audit(tx: AsyncManagedTransaction, now: int, **entry: str | None) -> None:
    """`entry`: id, actor, token_id, role, action, target_kind, target_id, before, after."""
    await tx.run(WRITE_AUDIT, {"now": now, **entry})
