"""Schema migration: constraints and indexes, each statement idempotent (`IF NOT EXISTS`), and
derived properties a graph written by older code lacks."""

from __future__ import annotations

from neo4j import Driver

from backend.graph.model import (
    ACCOUNT_INPUTS_CYPHER,
    ACCOUNT_INPUTS_PROPERTY,
    MERGE_KEYS,
    pack_inputs,
)


def _constraint_name(label: str, key: str) -> str:
    return f"{label.lower()}_{key}_unique"


# Labels and keys come from `backend.graph.model`, never from user input.
CONSTRAINT_STATEMENTS: tuple[str, ...] = tuple(
    f"CREATE CONSTRAINT {_constraint_name(label, key)} IF NOT EXISTS "
    f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
    for label, key in MERGE_KEYS
)

# Ban candidates look up the confirmed clusters of each cluster's network. A member page seeks
# its cluster's memberships in confidence order (`investigation.repository.CLUSTER_MEMBERS`):
# sorting every membership of a 15,000-account cluster for each page was most of its Neo4j time.
INDEX_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX cluster_network IF NOT EXISTS FOR (c:Cluster) ON (c.network)",
    "CREATE INDEX member_of_cluster_confidence IF NOT EXISTS "
    "FOR ()-[m:MEMBER_OF]-() ON (m.cluster, m.confidence)",
)

# Memberships written before each carried its cluster's id (`MEMBER_OF.cluster`, which the
# index above needs). Cluster ids never change, so the copy never goes stale.
FILL_MEMBERSHIP_CLUSTERS = """
MATCH ()-[m:MEMBER_OF]->(c:Cluster) WHERE m.cluster IS NULL
CALL (m, c) { SET m.cluster = c.id } IN TRANSACTIONS OF 10000 ROWS
"""

# Accounts without detection's packed inputs (`model.ACCOUNT_INPUTS_PROPERTY`): a graph written
# before ingest and the backfill's importer files packed them. In batches, one
# transaction each: Cypher computes the lists, Python packs them. An account ingest packed
# meanwhile keeps ingest's (newer) value.
ACCOUNTS_WITHOUT_INPUTS = f"""
MATCH (a:Account) WHERE a.{ACCOUNT_INPUTS_PROPERTY} IS NULL
RETURN collect(id(a)) AS nodes
"""
INPUTS_TO_PACK = f"""
UNWIND $nodes AS node
MATCH (a:Account) WHERE id(a) = node
RETURN node, {ACCOUNT_INPUTS_CYPHER} AS inputs
"""
SET_INPUTS_BY_NODE = f"""
UNWIND $rows AS row
MATCH (a:Account) WHERE id(a) = row.node AND a.{ACCOUNT_INPUTS_PROPERTY} IS NULL
SET a.{ACCOUNT_INPUTS_PROPERTY} = row.inputs
"""
FILL_BATCH = 20_000

LIST_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties RETURN name"


def migrate(driver: Driver, database: str) -> list[str]:
    """Apply every constraint and index, derive what older graphs lack; returns the
    constraint names now present."""
    fill_account_inputs(driver, database)
    return apply_schema(driver, database)


def apply_schema(driver: Driver, database: str) -> list[str]:
    """`migrate` but for the accounts' packed inputs (a backfill counts those itself)."""
    for statement in (*CONSTRAINT_STATEMENTS, *INDEX_STATEMENTS):
        driver.execute_query(statement, database_=database)
    with driver.session(database=database) as session:
        session.run(FILL_MEMBERSHIP_CLUSTERS).consume()  # CALL IN TRANSACTIONS needs auto-commit
    records, _, _ = driver.execute_query(LIST_CONSTRAINTS, database_=database)
    return sorted(record["name"] for record in records)


def fill_account_inputs(driver: Driver, database: str) -> int:
    """Packs detection's inputs for every account without them; returns how many."""
    records, _, _ = driver.execute_query(ACCOUNTS_WITHOUT_INPUTS, database_=database)
    nodes = records[0]["nodes"]
    for start in range(0, len(nodes), FILL_BATCH):
        part, _, _ = driver.execute_query(
            INPUTS_TO_PACK, nodes=nodes[start : start + FILL_BATCH], database_=database
        )
        packed = pack_inputs([r["inputs"] for r in part])
        rows = [{"node": r["node"], "inputs": p} for r, p in zip(part, packed, strict=True)]
        driver.execute_query(SET_INPUTS_BY_NODE, rows=rows, database_=database)
    return len(nodes)
