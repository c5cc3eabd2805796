"""What the graph holds, by label and relationship type (`heracles db stats`)."""

from __future__ import annotations

from neo4j import Driver

from backend.graph.model import ACCOUNT, IDENTIFIER_LABELS, LINKS

# Count stores answer these without a scan; labels and types come from the model, not input.
COUNT_LABEL = "MATCH (n:{label}) RETURN count(n) AS n"
COUNT_TYPE = "MATCH ()-[r:{rel}]->() RETURN count(r) AS n"


def graph_stats(driver: Driver, database: str) -> dict[str, int]:
    stats: dict[str, int] = {}
    for label in (ACCOUNT, *IDENTIFIER_LABELS):
        records, _, _ = driver.execute_query(COUNT_LABEL.format(label=label), database_=database)
        stats[label] = int(records[0]["n"])
    for rel in LINKS:
        records, _, _ = driver.execute_query(COUNT_TYPE.format(rel=rel), database_=database)
        stats[rel] = int(records[0]["n"])
    return stats
