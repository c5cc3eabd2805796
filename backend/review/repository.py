"""Cypher for analyst decisions. Each mutation runs in one transaction with its audit entry
(and, for cluster verdicts, its change-feed event), so none can land without the others.

Detection's write-back never touches `verdict*` properties or notes, so a refresh keeps them.
"""

from __future__ import annotations

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
