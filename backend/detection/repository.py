"""Cypher for detection: the bulk export it reads and the staged write-back.

Labels and relationship types come from `backend.graph.model`; every value is a parameter.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from neo4j import Driver, ManagedTransaction

from backend.detection.records import WRITE_BATCH, Memberships, WriteBack
from backend.graph.model import (
    ACCOUNT_INPUTS_CYPHER,
    ACCOUNT_INPUTS_PROPERTY,
    CLUSTER_EVENTS_SEQUENCE,
    CURRENT_MEMBERSHIP,
    GENERATION_SEQUENCE,
    LINKS,
    SOLE_LINKS,
    UNLINKED_DOMAIN,
    ClusterStatus,
    reserve,
)

# Every identifier held by min_degree..max_degree accounts, as one record of parallel columns
# (decoded whole, no Python per identifier), in key order (see ACCOUNT_IDS). An identifier's
# degree (`{degree}`, `_degree`) is its node's whole degree where nothing else touches its label
# (read in O(1): `graph.model.SOLE_LINKS`), else its links of that type counted. Holders are
# read as the degree counts them, without a label check: only accounts hold identifiers
# (`graph.model.LINKS`), and checking the label read every holder's node record, 1.5-3 s of the
# template bands' 11.6 s at full usage.
_EXPORT_TEMPLATE = """
MATCH (i:{label})
WITH i, {degree} AS degree
WHERE degree >= $min_degree AND degree <= $max_degree{extra}
WITH i.key AS key, id(i) AS ident, degree, [(i)<-[:{rel}]-(a) | id(a)] AS holders
ORDER BY key
RETURN collect(key) AS keys, collect(ident) AS idents, collect(degree) AS degrees,
       collect(holders) AS holders
"""
# Webmail and disposable domains never link accounts (they are features instead).
_LINKING_DOMAIN = f" AND NOT {UNLINKED_DOMAIN}"


def _degree(rel: str) -> str:
    """How many accounts hold `i` by `rel` links."""
    return "COUNT { (i)--() }" if rel in SOLE_LINKS else f"COUNT {{ (i)<-[:{rel}]-() }}"


def _per_kind(template: str) -> dict[str, str]:
    """The query for each relationship kind, with the domain rule where it applies."""
    return {
        rel: template.format(
            label=label,
            rel=rel,
            degree=_degree(rel),
            extra=_LINKING_DOMAIN if rel == "EMAIL_DOMAIN" else "",
        )
        for rel, label in LINKS.items()
    }


EXPORT_INCIDENCE = _per_kind(_EXPORT_TEMPLATE)
# An incremental refresh's export: the identifiers the region's accounts hold (same filters), with
# only the region's holders; `degree` is still the whole graph's (from the degree store). Walked
# from the region's side, so a popular identifier's other holders are never expanded.
EXPORT_REGION = _per_kind("""
UNWIND $nodes AS node
MATCH (a:Account)-[:{rel}]->(i:{label}) WHERE id(a) = node
WITH i, collect(node) AS holders
WITH i, holders, {degree} AS degree
WHERE degree >= $min_degree AND degree <= $max_degree{extra}
WITH i.key AS key, id(i) AS ident, degree, holders
ORDER BY key
RETURN collect(key) AS keys, collect(ident) AS idents, collect(degree) AS degrees,
       collect(holders) AS holders
""")
# What an incremental refresh reads when it holds the last refresh's whole-graph incidence
# (`snapshot_cache`): every identifier the touched accounts hold, shared or not yet (degree
# from the degree store, no upper bound: one grown past the cap must leave the cache), one row
# per link, without keys (the cache has them); then the keys and all holders of the identifiers
# the cache did not have.
TOUCHED_LINKS = _per_kind("""
UNWIND $nodes AS node
MATCH (a:Account)-[:{rel}]->(i:{label}) WHERE id(a) = node
WITH node, i, {degree} AS degree
WHERE degree >= $min_degree{extra}
RETURN collect(node) AS nodes, collect(id(i)) AS idents, collect(degree) AS degrees
""")
IDENTIFIER_HOLDERS = _per_kind("""
UNWIND $idents AS ident
MATCH (i:{label}) WHERE id(i) = ident
RETURN collect(ident) AS idents, collect(i.key) AS keys,
       collect([(i)<-[:{rel}]-(a) | id(a)]) AS holders
""")
# The identifiers the given accounts hold with min_degree..max_degree holders, then either every
# account holding one of them (`NEIGHBOURS`: where a change reaches, within
# `pipeline.reach_degrees`; the given accounts included) or their keys (`HELD_KEYS`: matched
# against the clusters' evidence).
_HELD = """
UNWIND $nodes AS node
MATCH (a:Account)-[:{rel}]->(i:{label}) WHERE id(a) = node
WITH DISTINCT i
WITH i, {degree} AS degree
WHERE degree >= $min_degree AND degree <= $max_degree{extra}
"""
NEIGHBOURS = _per_kind(
    _HELD + "MATCH (i)<-[:{rel}]-(b:Account)\nRETURN collect(DISTINCT id(b)) AS nodes\n"
)
HELD_KEYS = _per_kind(_HELD + "RETURN collect(i.key) AS keys\n")
ACCOUNT_NODES = """
UNWIND $ids AS id
MATCH (a:Account {id: id})
RETURN collect(id(a)) AS nodes
"""

# The account id behind each exported node. Detection orders accounts by account id and
# identifiers by key, not by internal node id: internal ids follow the order events happened to
# be written (and are reused after deletes), and Leiden's result depends on vertex order, so the
# same graph loaded twice must give the same input to give the same clusters.
ACCOUNT_IDS = """
UNWIND $nodes AS node
MATCH (a:Account) WHERE id(a) = node
RETURN collect(node) AS nodes, collect(a.id) AS ids
"""
# Every account's id, for the whole-graph export: one label scan read beside the link exports,
# where looking up the ~1M holders by node id after them took 2.8-3 s (2.2 s as a scan).
EVERY_ACCOUNT_ID = "MATCH (a:Account) RETURN collect(id(a)) AS nodes, collect(a.id) AS ids"
COUNT_ACCOUNTS = "MATCH (a:Account) RETURN count(a) AS n"
# Read from the count store: how many account-template-band links exist in all.
COUNT_TEMPLATE_LINKS = "MATCH ()-[r:USED_TEMPLATE]->() RETURN count(r) AS n"
# Template band values by holders, those with `$below` or more counted together: where chance
# alone puts a value's holders (`projection.band_floor`). Degrees from the node records, as the
# export's degree filter reads them (0.2-0.3 s over the `full` graph's 262,144 bands).
TEMPLATE_BAND_HOLDERS = f"""
MATCH (i:{LINKS["USED_TEMPLATE"]})
WITH {_degree("USED_TEMPLATE")} AS degree
WITH CASE WHEN degree < $below THEN degree ELSE $below END AS degree
RETURN degree, count(*) AS n
"""

# Per-account inputs of the community features, for candidate communities' members only: the
# packed bytes ingest keeps (`model.ACCOUNT_INPUTS_PROPERTY`), or for an account without them
# the list they pack (CASE, not coalesce: coalesce evaluates every argument, which made this
# read three times slower). Returned as one record of parallel columns, so numpy takes each list
# whole, no Python per row.
ACCOUNT_FEATURES = f"""
UNWIND $nodes AS node
MATCH (a:Account) WHERE id(a) = node
RETURN collect(node) AS node,
  collect(CASE WHEN a.{ACCOUNT_INPUTS_PROPERTY} IS NULL THEN {ACCOUNT_INPUTS_CYPHER}
               ELSE a.{ACCOUNT_INPUTS_PROPERTY} END) AS inputs,
  collect(coalesce(a.email_local_shape, '')) AS email_shape
"""


# Rare risk marks: the identifiers that mark an account (`ident`, over the identifier), which of
# their links (`link`, over the link `u` and the account `a`), and whether each marked link
# counts (`distinct` False) or only that there is one (column -> rule).
@dataclass(frozen=True)
class MarkRule:
    rel: str  # a link kind (`model.LINKS`), which names the identifier's label
    var: str  # the identifier's variable in `ident`
    ident: str
    distinct: bool
    link: str = ""

    @property
    def label(self) -> str:
        return LINKS[self.rel]

    def where(self) -> str:
        return f"{self.ident} AND {self.link}" if self.link else self.ident


MARK_RULES: dict[str, MarkRule] = {
    "risky_cards": MarkRule(
        rel="PAID_WITH", var="p", distinct=False,
        ident="p.funding IN ['prepaid', 'virtual']",
    ),
    "mismatched_cards": MarkRule(
        rel="PAID_WITH", var="p", distinct=False,
        ident="p.card_country IS NOT NULL AND p.billing_country IS NOT NULL"
        " AND p.card_country <> p.billing_country",
    ),
    "anon_ips": MarkRule(
        rel="USED_IP", var="i", distinct=False,
        ident="i.kind IN ['proxy', 'hosting', 'vpn', 'tor']",
    ),
    "disposable": MarkRule(
        rel="EMAIL_DOMAIN", var="d", distinct=True, ident="d.disposable"
    ),
    # Signed up before a release and first used that model within 24 hours of it.
    "fast_adopter": MarkRule(
        rel="USED_MODEL", var="m", distinct=True,
        ident="m.released_at IS NOT NULL",
        link="u.first_seen >= m.released_at"
        " AND u.first_seen < m.released_at + duration({hours: 24})"
        " AND a.signup_at < m.released_at",
    ),
}  # fmt: skip
# Over the whole graph, from the identifier side (few identifiers carry a mark, so this is far
# cheaper than expanding each of a million accounts): the internal ids of the marked accounts,
# once per marked link (or once, `distinct`). A full refresh reads these.
ACCOUNT_MARKS: dict[str, str] = {
    column: f"""
MATCH ({r.var}:{r.label}) WHERE {r.ident}
MATCH ({r.var})<-[u:{r.rel}]-(a:Account){f" WHERE {r.link}" if r.link else ""}
RETURN collect({"DISTINCT " if r.distinct else ""}id(a)) AS nodes"""
    for column, r in MARK_RULES.items()
}


def _mark_count(column: str, r: MarkRule) -> str:
    pattern = f"(a)-[u:{r.rel}]->({r.var}:{r.label}) WHERE {r.where()}"
    if r.distinct:
        return f"collect(CASE WHEN EXISTS {{ {pattern} }} THEN 1 ELSE 0 END) AS {column}"
    return f"collect(COUNT {{ {pattern} }}) AS {column}"


_MARK_SEPARATOR = ",\n  "
# The inputs with the same counts, read from the accounts' side in the same pass: an incremental
# refresh's region is a few percent of the accounts, and reading the whole graph's marks cost it
# ~3.5 s of Neo4j.
ACCOUNT_FEATURES_AND_MARKS = (
    ACCOUNT_FEATURES.rstrip()
    + _MARK_SEPARATOR
    + _MARK_SEPARATOR.join(_mark_count(c, r) for c, r in MARK_RULES.items())
    + "\n"
)

READ_ACTIVE_CLUSTERS = f"""
MATCH (c:Cluster) WHERE c.status = '{ClusterStatus.ACTIVE}'
RETURN c.id AS id, coalesce(c.evidence_keys, []) AS evidence, c.community AS community,
       c.network AS network, c.kin AS kin, c.verdict AS verdict,
       coalesce(c.evidence, '[]') AS proof
"""
# Their current memberships as one record of parallel columns.
READ_ACTIVE_MEMBERS = f"""
MATCH (c:Cluster) WHERE c.status = '{ClusterStatus.ACTIVE}'
MATCH (a:Account)-[m:MEMBER_OF]->(c) WHERE {CURRENT_MEMBERSHIP}
RETURN collect(id(a)) AS nodes, collect(c.id) AS clusters, collect(m.confidence) AS confidences
"""
READ_DORMANT_CLUSTERS = f"""
MATCH (c:Cluster) WHERE c.status = '{ClusterStatus.DISSOLVED}'
RETURN c.id AS id, coalesce(c.evidence_keys, []) AS evidence
"""

# --- write-back ---------------------------------------------------------------------------
# A million memberships do not fit one transaction (Neo4j's transaction memory limit), so the
# write-back is staged (see `CURRENT_MEMBERSHIP`): many batches that readers cannot see yet,
# then one small transaction over the clusters that makes them current, then clean-up.
# The generation counter: `value` is the last refresh started, `committed` the last made
# current, `collected` the last whose removed memberships were deleted.

BEGIN_GENERATION = f"""
MERGE (s:Sequence {{name: '{GENERATION_SEQUENCE}'}})
ON CREATE SET s.value = 0, s.committed = 0, s.collected = 0, s.migrate = true
WITH s, s.value > s.committed OR s.committed > s.collected OR s.migrate IS NOT NULL AS dirty
SET s.value = s.value + 1
RETURN s.value AS gen, dirty
"""

# Repairs whatever a dead refresh left behind; only runs when the counter says one did.
# Memberships written before versioning count as current since generation 0.
REPAIR_QUERIES = (
    "MATCH (c:Cluster) WHERE c.gen IS NULL SET c.gen = 0",
    """MATCH ()-[m:MEMBER_OF]->() WHERE m.from IS NULL
CALL (m) { SET m.from = 0 } IN TRANSACTIONS OF 10000 ROWS""",
    "MATCH (c:Cluster {status: 'pending'}) DETACH DELETE c",
    """MATCH ()-[m:MEMBER_OF]->(c:Cluster) WHERE m.from > c.gen OR m.until <= c.gen
CALL (m) { DELETE m } IN TRANSACTIONS OF 10000 ROWS""",
    """MATCH ()-[m:MEMBER_OF]->(c:Cluster) WHERE m.until > c.gen
CALL (m) { SET m.until = null } IN TRANSACTIONS OF 10000 ROWS""",
    f"""MATCH (s:Sequence {{name: '{GENERATION_SEQUENCE}'}})
SET s.committed = s.value, s.collected = s.value, s.migrate = null""",
)

# Clusters this refresh writes to but that do not exist yet: invisible until made current.
STAGE_CLUSTERS = """
UNWIND $ids AS id
MERGE (c:Cluster {id: id})
ON CREATE SET c.status = 'pending', c.gen = 0, c.created_at = datetime({epochMillis: $now})
"""

# Removed or changed memberships: still current until their cluster reaches $gen.
STAGE_ENDS = """
UNWIND range(0, size($nodes) - 1) AS i
MATCH (a:Account) WHERE id(a) = $nodes[i]
MATCH (a)-[m:MEMBER_OF]->(:Cluster {id: $clusters[i]})
WHERE m.from < $gen AND m.until IS NULL
SET m.until = $gen
"""

# New or changed memberships: MERGE on `from`, so a batch replayed after an unclear commit
# does not double them. `since` survives a confidence change within the same cluster; `cluster`
# repeats the cluster's id for the member pages' index (`schema_queries.INDEX_STATEMENTS`).
STAGE_MEMBERS = """
UNWIND range(0, size($nodes) - 1) AS i
MATCH (a:Account) WHERE id(a) = $nodes[i]
MATCH (c:Cluster {id: $clusters[i]})
WITH a, c, i, [(a)-[o:MEMBER_OF]->(c) WHERE o.from < $gen | o.since] AS prior
MERGE (a)-[m:MEMBER_OF {from: $gen}]->(c)
ON CREATE SET m.cluster = $clusters[i], m.confidence = $confidences[i], m.why = $why[i],
              m.since = coalesce(head(prior), datetime({epochMillis: $now}))
"""

# --- the one small transaction that makes the refresh current -----------------------------

UPSERT_CLUSTERS = f"""
UNWIND $rows AS row
MATCH (c:Cluster {{id: row.id}})
SET c.risk = row.risk, c.size = row.size, c.features = row.features, c.community = row.community,
    c.network = row.network, c.kin = row.kin,
    c.explanation = row.explanation, c.evidence = row.evidence,
    c.evidence_keys = row.evidence_keys, c.status = '{ClusterStatus.ACTIVE}', c.merged_into = null,
    c.refreshed_at = datetime({{epochMillis: $now}}), c.run_id = $run_id, c.gen = $gen
"""

RETIRE_CLUSTERS = """
UNWIND $rows AS row
MATCH (c:Cluster {id: row.id})
SET c.status = row.status, c.size = 0, c.merged_into = row.merged_into,
    c.refreshed_at = datetime({epochMillis: $now}), c.run_id = $run_id, c.gen = $gen
"""

ADD_LINEAGE = """
UNWIND $rows AS row
MATCH (child:Cluster {id: row.child}), (parent:Cluster {id: row.parent})
MERGE (child)-[r:DERIVED_FROM {kind: row.kind}]->(parent)
ON CREATE SET r.run_id = $run_id, r.at = datetime({epochMillis: $now})
"""

# The change feed's sequence: one counter node, incremented in the writing transaction, so
# sequence numbers are gap-free and ordered even with concurrent verdict mutations.
APPEND_EVENTS = f"""
{reserve(CLUSTER_EVENTS_SEQUENCE, "size($rows)")}UNWIND range(0, size($rows) - 1) AS i
WITH base + i + 1 AS seq, $rows[i] AS row
CREATE (:ClusterEvent {{seq: seq, type: row.type, cluster_id: row.cluster_id,
        related: row.related, size_before: row.size_before, size_after: row.size_after,
        run_id: $run_id, actor: 'detection', at: datetime({{epochMillis: $now}})}})
"""

COMMIT_GENERATION = f"""
MATCH (s:Sequence {{name: '{GENERATION_SEQUENCE}'}}) WHERE s.value = $gen
SET s.committed = $gen, s.last_run = $run_id
CREATE (:DetectionRun {{id: $run_id, at: datetime({{epochMillis: $now}}), stats: $stats,
        clusters: $clusters, members: $members, generation: $gen, scope: $scope,
        weight: $weight}})
RETURN s.value AS gen
"""

# The last refresh that wrote (deferred ones write nothing): a cached whole-graph incidence is
# current only if this run read it (`snapshot_cache`).
LAST_RUN = f"""
MATCH (s:Sequence {{name: '{GENERATION_SEQUENCE}'}}) RETURN s.last_run AS run_id
"""

# The projection weight the last full refresh saw (runs before it was recorded have none).
LAST_FULL_WEIGHT = """
MATCH (r:DetectionRun) WHERE r.scope = 'full' AND r.weight IS NOT NULL
RETURN r.weight AS weight ORDER BY r.generation DESC LIMIT 1
"""

# A refresh that numbered itself and then wrote nothing (an incremental one deferred): its
# number is closed as if committed and collected, so the next refresh finds nothing to repair.
CLOSE_GENERATION = f"""
MATCH (s:Sequence {{name: '{GENERATION_SEQUENCE}'}}) WHERE s.value = $gen
SET s.committed = $gen, s.collected = $gen
"""

# After the commit: removed memberships are no longer current anywhere; delete them.
COLLECT_ENDS = """
UNWIND range(0, size($nodes) - 1) AS i
MATCH (a:Account) WHERE id(a) = $nodes[i]
MATCH (a)-[m:MEMBER_OF {until: $gen}]->(:Cluster {id: $clusters[i]})
DELETE m
"""
COLLECTED = f"""
MATCH (s:Sequence {{name: '{GENERATION_SEQUENCE}'}}) WHERE s.committed = $gen
SET s.collected = $gen
"""


class GenerationSuperseded(RuntimeError):
    """Another refresh started after this one (a lock that expired): this one must not commit."""


def _chunks(rows: list[Any]) -> list[list[Any]]:
    return [rows[i : i + WRITE_BATCH] for i in range(0, len(rows), WRITE_BATCH)]


def begin_generation(driver: Driver, database: str) -> int:
    """Number this refresh; first repair what a refresh that died half-way left behind."""
    records, _, _ = driver.execute_query(BEGIN_GENERATION, database_=database)
    gen, dirty = int(records[0]["gen"]), bool(records[0]["dirty"])
    if dirty:
        with driver.session(database=database) as session:
            for query in REPAIR_QUERIES:
                session.run(query).consume()  # CALL IN TRANSACTIONS needs auto-commit
        records, _, _ = driver.execute_query(BEGIN_GENERATION, database_=database)
        gen = int(records[0]["gen"])
    return gen


def close_generation(driver: Driver, database: str, gen: int) -> None:
    driver.execute_query(CLOSE_GENERATION, gen=gen, database_=database)


def _batches(
    driver: Driver, database: str, lanes: int, query: str, rows: Memberships, **params: Any
) -> None:
    def lane(part: Memberships) -> None:
        for cols in part.batches():
            driver.execute_query(query, {**params, **cols}, database_=database)

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        for done in [pool.submit(lane, part) for part in rows.lanes(lanes)]:
            done.result()  # re-raises a lane's failure


def write_back(driver: Driver, database: str, gen: int, wb: WriteBack, lanes: int = 2) -> None:
    """Stage in batches (`lanes` transactions at once, split by cluster: no shared locks), make
    current in one transaction, then delete what was replaced."""
    common: dict[str, Any] = {"gen": gen, "now": wb.now_ms}
    for ids in _chunks([c["id"] for c in wb.clusters]):
        driver.execute_query(STAGE_CLUSTERS, common, ids=ids, database_=database)
    _batches(driver, database, lanes, STAGE_ENDS, wb.ends, **common)
    _batches(driver, database, lanes, STAGE_MEMBERS, wb.members, **common)
    with driver.session(database=database) as session:
        session.execute_write(make_current, gen, wb)
    # One lane: deleting a relationship locks its neighbours in both nodes' chains (a moved
    # account's new membership, in another cluster's lane), so lanes split by cluster still
    # deadlocked here, and each deadlock cost a retry of ~1 s (measured on an incremental
    # refresh of 5,000 ends; docs/benchmarks.md).
    _batches(driver, database, 1, COLLECT_ENDS, wb.ends, gen=gen)
    driver.execute_query(COLLECTED, gen=gen, database_=database)


def make_current(tx: ManagedTransaction, gen: int, wb: WriteBack) -> None:
    common: dict[str, Any] = {"run_id": wb.run_id, "now": wb.now_ms, "gen": gen}
    for rows in _chunks(wb.clusters):
        tx.run(UPSERT_CLUSTERS, rows=rows, **common).consume()
    for rows in _chunks(wb.retired):
        tx.run(RETIRE_CLUSTERS, rows=rows, **common).consume()
    for rows in _chunks(wb.lineage):
        tx.run(ADD_LINEAGE, rows=rows, **common).consume()
    if wb.events:
        tx.run(APPEND_EVENTS, rows=wb.events, **common).consume()
    committed = tx.run(
        COMMIT_GENERATION, stats=wb.stats, clusters=len(wb.clusters), members=wb.total_members,
        scope=wb.scope, weight=wb.weight, **common,
    ).single()  # fmt: skip
    if committed is None:
        raise GenerationSuperseded(f"refresh generation {gen} was superseded")


def _read(driver: Driver, database: str, query: str, **params: Any) -> list[dict[str, Any]]:
    """Rows as decoded. Not `Record.data()`: it walks every value again in Python to turn
    graph objects into dicts, and these queries return only numbers, strings and lists (the
    feature read's 40 columns of 20,000 values spent 1.2 s per chunk in it, measured)."""
    records, _, _ = driver.execute_query(query, params, database_=database)
    return [dict(r) for r in records]


# --- the refresh's reads (`detection.reads`): one function per query --------------------------

Columns = dict[str, Any]  # one record of parallel lists, a column per name


def count_template_links(driver: Driver, database: str) -> int:
    return int(_read(driver, database, COUNT_TEMPLATE_LINKS)[0]["n"])


def template_band_holders(driver: Driver, database: str, below: int) -> dict[int, int]:
    """Band values per holder count under `below` (`below`: those with as many or more)."""
    rows = _read(driver, database, TEMPLATE_BAND_HOLDERS, below=below)
    return {int(r["degree"]): int(r["n"]) for r in rows}


def export_links(
    driver: Driver, database: str, rel: str, *, region: list[int] | None, min_degree: int,
    max_degree: int,
) -> Columns:  # fmt: skip
    """One kind's identifiers with min..max holders (`idents`, `keys`, `degrees`, `holders`);
    with `region`, only those its accounts hold, and of their holders only the region's."""
    query = EXPORT_INCIDENCE[rel] if region is None else EXPORT_REGION[rel]
    (cols,) = _read(driver, database, query, max_degree=max_degree, min_degree=min_degree,
                    nodes=region or [])  # fmt: skip
    return cols


def account_ids(driver: Driver, database: str, nodes: list[int]) -> Columns:
    """`nodes` and the account `ids` of those that exist."""
    (cols,) = _read(driver, database, ACCOUNT_IDS, nodes=nodes)
    return cols


def every_account_id(driver: Driver, database: str) -> Columns:
    """Every account's `nodes` and `ids`."""
    (cols,) = _read(driver, database, EVERY_ACCOUNT_ID)
    return cols


def touched_links(
    driver: Driver, database: str, rel: str, nodes: list[int], min_degree: int
) -> Columns:
    (cols,) = _read(driver, database, TOUCHED_LINKS[rel], nodes=nodes, min_degree=min_degree)
    return cols


def identifier_holders(driver: Driver, database: str, rel: str, idents: list[int]) -> Columns:
    (cols,) = _read(driver, database, IDENTIFIER_HOLDERS[rel], idents=idents)
    return cols


def account_features(driver: Driver, database: str, nodes: list[int], with_marks: bool) -> Columns:
    """The accounts' packed inputs and email shapes; `with_marks`: their risk marks too."""
    query = ACCOUNT_FEATURES_AND_MARKS if with_marks else ACCOUNT_FEATURES
    return _read(driver, database, query, nodes=nodes)[0]


def marked_accounts(driver: Driver, database: str, column: str) -> list[int]:
    """Every account carrying one risk mark, once per marked identifier it holds."""
    return list(_read(driver, database, ACCOUNT_MARKS[column])[0]["nodes"])


def active_clusters(driver: Driver, database: str) -> list[dict[str, Any]]:
    return _read(driver, database, READ_ACTIVE_CLUSTERS)


def dormant_clusters(driver: Driver, database: str) -> list[dict[str, Any]]:
    return _read(driver, database, READ_DORMANT_CLUSTERS)


def active_members(driver: Driver, database: str) -> Columns:
    (cols,) = _read(driver, database, READ_ACTIVE_MEMBERS)
    return cols


def account_nodes(driver: Driver, database: str, ids: list[str]) -> list[int]:
    (cols,) = _read(driver, database, ACCOUNT_NODES, ids=ids)
    return list(cols["nodes"])


def neighbours_within(
    driver: Driver, database: str, rel: str, nodes: list[int], min_degree: int, max_degree: int
) -> list[int]:
    (cols,) = _read(driver, database, NEIGHBOURS[rel], nodes=nodes, min_degree=min_degree,
                    max_degree=max_degree)  # fmt: skip
    return list(cols["nodes"])


def held_keys(
    driver: Driver, database: str, rel: str, nodes: list[int], min_degree: int, max_degree: int
) -> list[str]:
    (cols,) = _read(driver, database, HELD_KEYS[rel], nodes=nodes, min_degree=min_degree,
                    max_degree=max_degree)  # fmt: skip
    return list(cols["keys"])


def count_accounts(driver: Driver, database: str) -> int:
    return int(_read(driver, database, COUNT_ACCOUNTS)[0]["n"])


def last_full_weight(driver: Driver, database: str) -> float | None:
    rows = _read(driver, database, LAST_FULL_WEIGHT)
    return float(rows[0]["weight"]) if rows else None


def last_run(driver: Driver, database: str) -> str | None:
    rows = _read(driver, database, LAST_RUN)
    return str(rows[0]["run_id"]) if rows and rows[0]["run_id"] else None
