"""Cypher for detection: the bulk export it reads and the one-transaction write-back.

Labels and relationship types come from `backend.graph.model`; every value is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neo4j import Driver, ManagedTransaction

from backend.graph.model import LINKS

# One row per identifier held by 2..max_degree accounts. `COUNT {}` on a single relationship
# type reads the node's stored degree, so rejecting CGNAT-sized identifiers costs nothing.
_EXPORT_TEMPLATE = """
MATCH (i:{label})
WITH i, COUNT {{ (i)<-[:{rel}]-() }} AS degree
WHERE degree >= 2 AND degree <= $max_degree{extra}
RETURN i.key AS key, degree, [(i)<-[:{rel}]-(a:Account) | id(a)] AS holders
"""
# Webmail and disposable domains never link accounts (they are features instead).
_LINKING_DOMAIN = " AND NOT coalesce(i.webmail, false) AND NOT coalesce(i.disposable, false)"
EXPORT_INCIDENCE: dict[str, str] = {
    rel: _EXPORT_TEMPLATE.format(
        label=label, rel=rel, extra=_LINKING_DOMAIN if rel == "EMAIL_DOMAIN" else ""
    )
    for rel, label in LINKS.items()
}

COUNT_ACCOUNTS = "MATCH (a:Account) RETURN count(a) AS n"

# Per-account inputs of the community features, for candidate communities' members only.
ACCOUNT_FEATURES = """
UNWIND $nodes AS node
MATCH (a:Account) WHERE id(a) = node
WITH node, a,
     [(a)-[u:USED_MODEL]->(m:Model)
      WHERE m.released_at IS NOT NULL AND a.signup_at < m.released_at
      | u.first_seen.epochMillis - m.released_at.epochMillis] AS lags
WITH node, a.id AS id,
  coalesce(a.exchanges, 0) AS exchanges, coalesce(a.cot_elicitations, 0) AS cot,
  coalesce(a.cap_reasoning, 0) AS cap_reasoning, coalesce(a.cap_coding, 0) AS cap_coding,
  coalesce(a.cap_agentic_tool_use, 0) AS cap_agentic_tool_use,
  coalesce(a.cap_vision, 0) AS cap_vision, coalesce(a.cap_chat, 0) AS cap_chat,
  coalesce(a.cap_other, 0) AS cap_other,
  coalesce(a.charges, 0) AS charges, coalesce(a.charges_disputed, 0) AS disputed,
  COUNT { (a)-[:PAID_WITH]->() } AS cards,
  COUNT { (a)-[:PAID_WITH]->(p) WHERE p.funding IN ['prepaid', 'virtual'] } AS risky_cards,
  COUNT { (a)-[:PAID_WITH]->(p) WHERE p.card_country IS NOT NULL
          AND p.billing_country IS NOT NULL AND p.card_country <> p.billing_country }
    AS mismatched_cards,
  COUNT { (a)-[:USED_IP]->() } AS ips,
  COUNT { (a)-[:USED_IP]->(i) WHERE i.kind IN ['proxy', 'hosting', 'vpn', 'tor'] } AS anon_ips,
  CASE WHEN EXISTS { (a)-[:EMAIL_DOMAIN]->(d) WHERE d.disposable } THEN 1 ELSE 0 END
    AS disposable,
  coalesce(a.signup_at, a.first_seen).epochMillis / 1000 AS signup_s,
  CASE WHEN any(lag IN lags WHERE lag >= 0 AND lag < 86400000) THEN 1 ELSE 0 END
    AS fast_adopter,
  coalesce(a.email_local_shape, '') AS email_shape
"""
# Returned as one record of parallel columns: numpy takes each list whole, no Python per row.
ACCOUNT_FEATURE_COLUMNS = (
    "node", "id", "exchanges", "cot", "cap_reasoning", "cap_coding", "cap_agentic_tool_use",
    "cap_vision", "cap_chat", "cap_other", "charges", "disputed", "cards", "risky_cards",
    "mismatched_cards", "ips", "anon_ips", "disposable", "signup_s", "fast_adopter", "email_shape",
)  # fmt: skip
ACCOUNT_FEATURES += "RETURN " + ", ".join(f"collect({c}) AS {c}" for c in ACCOUNT_FEATURE_COLUMNS)

READ_ACTIVE_CLUSTERS = """
MATCH (c:Cluster) WHERE c.status = 'active'
RETURN c.id AS id, [(a:Account)-[:MEMBER_OF]->(c) | a.id] AS members,
       [(a:Account)-[:MEMBER_OF]->(c) | id(a)] AS nodes, coalesce(c.evidence_keys, []) AS evidence
"""
READ_DORMANT_CLUSTERS = """
MATCH (c:Cluster) WHERE c.status = 'dissolved'
RETURN c.id AS id, coalesce(c.evidence_keys, []) AS evidence
"""

# --- write-back: all in one transaction, so a failed refresh leaves the previous one -------

DELETE_MEMBERSHIPS = "MATCH (:Account)-[r:MEMBER_OF]->(:Cluster) DELETE r"

UPSERT_CLUSTERS = """
UNWIND $rows AS row
MERGE (c:Cluster {id: row.id})
ON CREATE SET c.created_at = datetime({epochMillis: $now})
SET c.risk = row.risk, c.size = row.size, c.features = row.features,
    c.explanation = row.explanation, c.evidence = row.evidence,
    c.evidence_keys = row.evidence_keys, c.status = 'active', c.merged_into = null,
    c.refreshed_at = datetime({epochMillis: $now}), c.run_id = $run_id
"""

ADD_MEMBERS = """
UNWIND $rows AS row
MATCH (a:Account) WHERE id(a) = row.node
MATCH (c:Cluster {id: row.cluster})
CREATE (a)-[:MEMBER_OF {confidence: row.confidence, since: datetime({epochMillis: $now})}]->(c)
"""

RETIRE_CLUSTERS = """
UNWIND $rows AS row
MATCH (c:Cluster {id: row.id})
SET c.status = row.status, c.size = 0, c.merged_into = row.merged_into,
    c.refreshed_at = datetime({epochMillis: $now}), c.run_id = $run_id
"""

ADD_LINEAGE = """
UNWIND $rows AS row
MATCH (child:Cluster {id: row.child}), (parent:Cluster {id: row.parent})
MERGE (child)-[r:DERIVED_FROM {kind: row.kind}]->(parent)
ON CREATE SET r.run_id = $run_id, r.at = datetime({epochMillis: $now})
"""

# The change feed's sequence: one counter node, incremented in the writing transaction, so
# sequence numbers are gap-free and ordered even with concurrent verdict mutations.
APPEND_EVENTS = """
MERGE (s:Sequence {name: 'cluster_events'})
ON CREATE SET s.value = 0
SET s.value = s.value + size($rows)
WITH s.value - size($rows) AS base
UNWIND range(0, size($rows) - 1) AS i
WITH base + i + 1 AS seq, $rows[i] AS row
CREATE (:ClusterEvent {seq: seq, type: row.type, cluster_id: row.cluster_id,
        related: row.related, size_before: row.size_before, size_after: row.size_after,
        run_id: $run_id, actor: 'detection', at: datetime({epochMillis: $now})})
"""

RECORD_RUN = """
CREATE (:DetectionRun {id: $run_id, at: datetime({epochMillis: $now}), stats: $stats,
        clusters: $clusters, members: $members})
"""

WRITE_BATCH = 10_000


@dataclass
class WriteBack:
    run_id: str
    now_ms: int
    clusters: list[dict[str, Any]]
    members: list[dict[str, Any]]
    retired: list[dict[str, Any]]
    lineage: list[dict[str, Any]]
    events: list[dict[str, Any]]
    stats: str


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + WRITE_BATCH] for i in range(0, len(rows), WRITE_BATCH)]


def write_back(tx: ManagedTransaction, wb: WriteBack) -> None:
    common: dict[str, Any] = {"run_id": wb.run_id, "now": wb.now_ms}
    tx.run(DELETE_MEMBERSHIPS).consume()
    for rows in _chunks(wb.clusters):
        tx.run(UPSERT_CLUSTERS, rows=rows, **common).consume()
    for rows in _chunks(wb.retired):
        tx.run(RETIRE_CLUSTERS, rows=rows, **common).consume()
    for rows in _chunks(wb.members):
        tx.run(ADD_MEMBERS, rows=rows, **common).consume()
    for rows in _chunks(wb.lineage):
        tx.run(ADD_LINEAGE, rows=rows, **common).consume()
    if wb.events:
        tx.run(APPEND_EVENTS, rows=wb.events, **common).consume()
    tx.run(
        RECORD_RUN, stats=wb.stats, clusters=len(wb.clusters), members=len(wb.members), **common
    ).consume()


def run_read(driver: Driver, database: str, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params, database_=database)
    return [r.data() for r in records]
