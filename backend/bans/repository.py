"""Cypher for ban candidates, shared by the GraphQL field and `heracles export-bans`.

A candidate is a member of an active cluster that an analyst confirmed as fraud, or in whose
network (`Cluster.network`) an analyst confirmed a cluster (an operation back on part of the
infrastructure it was banned on), or whose risk reaches $min_risk (unless an analyst marked the
cluster a false positive), tied to it with confidence >= $min_confidence (in a confirmed
cluster or network, >= $min_confidence_confirmed, which an operator may set lower so that
regrowth is banned at its first exchange: `config.DETECTION_CONFIRMED_MIN_CONFIDENCE`; an
account individually confirmed as fraud is kept whatever its confidence), and not itself marked
FALSE_POSITIVE. Ordered by (cluster id, account id) so pages resume exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from neo4j import Driver, RoutingControl

from backend.graph.model import CURRENT_MEMBERSHIP, ClusterStatus, Verdict

BAN_CANDIDATES = f"""
MATCH (c:Cluster)
WHERE c.status = '{ClusterStatus.ACTIVE}' AND coalesce(c.verdict, '') <> '{Verdict.FALSE_POSITIVE}'
  AND ($after_cluster IS NULL OR c.id >= $after_cluster)
WITH c, c.network IS NOT NULL AND EXISTS {{
  MATCH (o:Cluster {{network: c.network}})
  WHERE o.status = '{ClusterStatus.ACTIVE}' AND o.verdict = '{Verdict.CONFIRMED_FRAUD}'
}} AS network_confirmed
WHERE c.verdict = '{Verdict.CONFIRMED_FRAUD}' OR network_confirmed
   OR coalesce(c.risk, 0.0) >= $min_risk
MATCH (c)<-[m:MEMBER_OF]-(a:Account)
WHERE {CURRENT_MEMBERSHIP}
  AND (m.confidence >= CASE WHEN c.verdict = '{Verdict.CONFIRMED_FRAUD}' OR network_confirmed
                            THEN $min_confidence_confirmed ELSE $min_confidence END
       OR a.verdict = '{Verdict.CONFIRMED_FRAUD}')
  AND coalesce(a.verdict, '') <> '{Verdict.FALSE_POSITIVE}'
  AND ($after_cluster IS NULL OR c.id > $after_cluster OR a.id > $after_account)
RETURN c.id AS cluster_id, c.network AS network_id, a.id AS account_id,
       m.confidence AS confidence, c.risk AS risk,
       c.verdict AS cluster_verdict, a.verdict AS account_verdict,
       CASE WHEN c.verdict = '{Verdict.CONFIRMED_FRAUD}' THEN 'cluster_confirmed'
            WHEN network_confirmed THEN 'network_confirmed'
            ELSE 'risk_threshold' END AS reason, m.why AS why
ORDER BY cluster_id, account_id
LIMIT $limit
"""

EXPORT_PAGE = 10_000


def confirmed_gate(min_confidence: float, min_confidence_confirmed: float | None) -> float:
    """The confidence a confirmed cluster's member needs: never more than anyone else's."""
    if min_confidence_confirmed is None:
        return min_confidence
    return min(min_confidence, min_confidence_confirmed)


def iter_candidates(
    driver: Driver, database: str, min_risk: float, min_confidence: float,
    min_confidence_confirmed: float | None = None,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every candidate, page by page (bounded memory whatever the number of accounts)."""
    after: tuple[str | None, str | None] = (None, None)
    while True:
        records, _, _ = driver.execute_query(
            BAN_CANDIDATES, min_risk=min_risk, min_confidence=min_confidence,
            min_confidence_confirmed=confirmed_gate(min_confidence, min_confidence_confirmed),
            after_cluster=after[0], after_account=after[1], limit=EXPORT_PAGE,
            database_=database, routing_=RoutingControl.READ,
        )  # fmt: skip
        for record in records:
            yield record.data()
        if len(records) < EXPORT_PAGE:
            return
        after = (records[-1]["cluster_id"], records[-1]["account_id"])
