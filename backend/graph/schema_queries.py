"""Schema migration: constraints and indexes, each statement idempotent (`IF NOT EXISTS`), and
derived properties a graph written by older code lacks."""

from __future__ import annotations

from neo4j import Driver

from backend.graph.model import ACCOUNT_INPUTS_CYPHER, ACCOUNT_INPUTS_PROPERTY, MERGE_KEYS


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

# Accounts written before ingest packed detection's inputs (`model.ACCOUNT_INPUTS_PROPERTY`).
# Detection reads the same expression for any account still without it, so this only makes
# such a graph's refreshes fast. Batched: one transaction would hold every account at once.
FILL_ACCOUNT_INPUTS = f"""
MATCH (a:Account) WHERE a.{ACCOUNT_INPUTS_PROPERTY} IS NULL
CALL (a) {{ SET a.{ACCOUNT_INPUTS_PROPERTY} = {ACCOUNT_INPUTS_CYPHER} }}
IN TRANSACTIONS OF 10000 ROWS
"""

LIST_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties RETURN name"


def migrate(driver: Driver, database: str) -> list[str]:
    """Apply every constraint and index; returns the constraint names now present."""
    for statement in (*CONSTRAINT_STATEMENTS, *INDEX_STATEMENTS):
        driver.execute_query(statement, database_=database)
    # `CALL ... IN TRANSACTIONS` runs only in an auto-commit transaction.
    with driver.session(database=database) as session:
        session.run(FILL_ACCOUNT_INPUTS).consume()
    records, _, _ = driver.execute_query(LIST_CONSTRAINTS, database_=database)
    return sorted(record["name"] for record in records)
