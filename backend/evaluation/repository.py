"""Reads what detection wrote: each account's cluster, its risk, the membership confidence."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import Driver

from backend.graph.model import CURRENT_MEMBERSHIP

# Detection's write-back contract:
# (:Account)-[:MEMBER_OF {confidence, from, until}]->(:Cluster {id, risk, gen})
READ_MEMBERSHIPS = f"""
MATCH (a:Account)-[m:MEMBER_OF]->(c:Cluster)
WHERE {CURRENT_MEMBERSHIP}
RETURN a.id AS account, c.id AS cluster, coalesce(c.risk, 0.0) AS risk,
       coalesce(m.confidence, 1.0) AS confidence, coalesce(c.network, '') AS network
"""


# Every account's id by internal node id (detection works on node ids), as parallel columns.
READ_ACCOUNT_IDS = "MATCH (a:Account) RETURN collect(id(a)) AS nodes, collect(a.id) AS ids"


@dataclass(frozen=True, slots=True)
class Membership:
    account: str
    cluster: str
    risk: float
    confidence: float
    network: str = ""  # the flagged cluster's network id


def read_memberships(driver: Driver, database: str) -> list[Membership]:
    with driver.session(database=database) as session:
        result = session.run(READ_MEMBERSHIPS)
        return [
            Membership(
                str(r["account"]),
                str(r["cluster"]),
                float(r["risk"]),
                float(r["confidence"]),
                str(r["network"]),
            )
            for r in result
        ]


def read_account_ids(driver: Driver, database: str) -> dict[int, str]:
    records, _, _ = driver.execute_query(READ_ACCOUNT_IDS, database_=database)
    return dict(zip(records[0]["nodes"], records[0]["ids"], strict=True))
