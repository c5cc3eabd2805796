"""Cypher for the smoke round trip that proves worker -> Neo4j writes and reads work."""

from __future__ import annotations

from neo4j import Driver

WRITE_SMOKE_NODE = """
MERGE (s:SmokeCheck {id: $id})
SET s.written_at = datetime()
RETURN s.id AS id
"""

READ_SMOKE_NODE = "MATCH (s:SmokeCheck {id: $id}) RETURN s.id AS id"

DELETE_SMOKE_NODE = "MATCH (s:SmokeCheck {id: $id}) DELETE s"


def write_smoke_node(driver: Driver, database: str, node_id: str) -> None:
    driver.execute_query(WRITE_SMOKE_NODE, id=node_id, database_=database)


def read_smoke_node(driver: Driver, database: str, node_id: str) -> str | None:
    records, _, _ = driver.execute_query(READ_SMOKE_NODE, id=node_id, database_=database)
    return str(records[0]["id"]) if records else None


def delete_smoke_node(driver: Driver, database: str, node_id: str) -> None:
    driver.execute_query(DELETE_SMOKE_NODE, id=node_id, database_=database)
