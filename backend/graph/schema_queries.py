"""Schema migration: constraints and indexes, each statement idempotent (`IF NOT EXISTS`)."""

from __future__ import annotations

from neo4j import Driver

from backend.graph.model import MERGE_KEYS


def _constraint_name(label: str, key: str) -> str:
    return f"{label.lower()}_{key}_unique"


# Labels and keys come from `backend.graph.model`, never from user input.
CONSTRAINT_STATEMENTS: tuple[str, ...] = tuple(
    f"CREATE CONSTRAINT {_constraint_name(label, key)} IF NOT EXISTS "
    f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
    for label, key in MERGE_KEYS
)

# Ban candidates look up the confirmed clusters of each cluster's network.
INDEX_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX cluster_network IF NOT EXISTS FOR (c:Cluster) ON (c.network)",
)

LIST_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties RETURN name"


def migrate(driver: Driver, database: str) -> list[str]:
    """Apply every constraint and index; returns the constraint names now present."""
    for statement in (*CONSTRAINT_STATEMENTS, *INDEX_STATEMENTS):
        driver.execute_query(statement, database_=database)
    records, _, _ = driver.execute_query(LIST_CONSTRAINTS, database_=database)
    return sorted(record["name"] for record in records)
