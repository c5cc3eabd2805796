"""The GraphQL API against the real stack: a seeded population ingested through Celery and
refreshed on the worker, queried over HTTP with tokens of every role through the named
operations in graphql/operations/ (sent whole, as clients send them)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery.result import AsyncResult
from graphql import GraphQLError
from neo4j import Driver
from typer.testing import CliRunner

from backend.api.graphql.operations import named_operations
from backend.api.graphql.types.common import IdentifierKind
from backend.auth.roles import Role
from backend.auth.tokens import create_token, revoke_token
from backend.cli.main import app as cli
from backend.core.config import Settings
from backend.detection.tasks import refresh_task
from backend.graph.model import CURRENT_MEMBERSHIP
from backend.investigation.repository import ACCOUNT_TEMPORALS, ACCOUNTS_BY_ID
from tests.integration.ingest_helpers import ingest, load_seed

pytestmark = pytest.mark.usefixtures("stack")

DOCUMENTS = named_operations()


@dataclass
class Api:
    url: str
    tokens: dict[Role, str]
    seed_dir: Path

    def post(self, token: str | None, payload: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}/graphql", json=payload, headers=headers, timeout=60)

    def run(self, role: Role, operation: str, **variables: Any) -> dict[str, Any]:
        response = self.post(
            self.tokens[role],
            {"query": DOCUMENTS[operation], "operationName": operation, "variables": variables},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, role: Role, operation: str, **variables: Any) -> dict[str, Any]:
        body = self.run(role, operation, **variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def query(self, role: Role, query: str, **variables: Any) -> dict[str, Any]:
        response = self.post(self.tokens[role], {"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def api(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Api:
    out = load_seed(driver, settings, tmp_path_factory.mktemp("api-seed"), 4000)
    assert refresh_task.delay().get(timeout=300)["status"] == "done"
    tokens = {
        role: create_token(driver, settings.NEO4J_DATABASE, f"test-{role.value}", role)[1]
        for role in Role
    }
    return Api(settings.api_url, tokens, out)


def _cypher(driver: Driver, settings: Settings, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params, database_=settings.NEO4J_DATABASE)
    return [r.data() for r in records]


@pytest.fixture(scope="module")
def target(api: Api, driver: Driver, settings: Settings) -> dict[str, Any]:
    """A flagged cluster whose evidence includes a shared card, two members holding that card."""
    clusters = api.data(Role.ANALYST, "TopClusters", first=50)["clusters"]["edges"]
    for edge in clusters:
        node = edge["node"]
        cards = [e for e in node["evidence"] if e["kind"] == "PAYMENT_METHOD"]
        if node["risk"] >= settings.DETECTION_FLAG_THRESHOLD and cards:
            holders = _cypher(
                driver, settings,
                "MATCH (c:Cluster {id: $c})<-[:MEMBER_OF]-(a:Account)-[:PAID_WITH]->"
                "(:PaymentMethod {key: $k}) RETURN a.id AS id ORDER BY id LIMIT 2",
                c=node["id"], k=cards[0]["value"],
            )  # fmt: skip
            return {"cluster": node["id"], "card": cards[0]["value"],
                    "members": [h["id"] for h in holders], "size": node["size"]}  # fmt: skip
    raise AssertionError("no flagged cluster lists a shared card as evidence")


# --- authentication ---------------------------------------------------------------------


def test_no_token_wrong_token_and_revoked_token_get_401(
    api: Api, driver: Driver, settings: Settings
) -> None:
    body = {"query": "{ apiVersion }"}
    assert api.post(None, body).status_code == 401
    assert api.post("hrc_not-a-real-token", body).status_code == 401
    assert api.post("Basic abc", body).status_code == 401
    _, token = create_token(driver, settings.NEO4J_DATABASE, "short-lived", Role.ANALYST)
    assert api.post(token, body).json() == {"data": {"apiVersion": "0.1.0"}}
    assert revoke_token(driver, settings.NEO4J_DATABASE, "short-lived")
    time.sleep(settings.API_TOKEN_CACHE_S + 0.2)
    assert api.post(token, body).status_code == 401


# --- role matrix --------------------------------------------------------------------------

R = {Role.ANALYST, Role.BANTOOL, Role.ADMIN}
A = {Role.ANALYST, Role.ADMIN}
EXPECTED: dict[str, set[Role]] = {
    "BanFeed": R, "BanCandidates": R, "BanClusterMembers": R, "TopClusters": R,
    "ClusterReview": A, "ClusterSubgraph": A, "SetClusterVerdict": A, "AddClusterNote": A,
    "AccountSummary": A, "AccountInvestigation": A, "LinkedAccounts": A, "IdentifierHolders": A, "AccountPath": A,
    "SetAccountVerdict": A, "AddAccountNote": A, "AuditLog": A, "RequestRefresh": {Role.ADMIN},
    "Viewer": R, "TriageQueue": R, "FeedEvents": R, "ClusterDecision": R, "ClusterTimeline": A,
    "ClusterMembersExport": R,
}  # fmt: skip


def _variables(target: dict[str, Any]) -> dict[str, dict[str, Any]]:
    c, (a, b) = target["cluster"], target["members"]
    return {
        "BanFeed": {}, "BanCandidates": {"first": 10}, "BanClusterMembers": {"id": c},
        "TopClusters": {}, "ClusterReview": {"id": c}, "ClusterSubgraph": {"id": c},
        "SetClusterVerdict": {"id": c, "verdict": "NEEDS_REVIEW"},
        "AddClusterNote": {"id": c, "text": "matrix"}, "AccountInvestigation": {"id": a}, "AccountSummary": {"id": a},
        "LinkedAccounts": {"id": a}, "AccountPath": {"from": a, "to": b},
        "IdentifierHolders": {"kind": "PAYMENT_METHOD", "value": target["card"]},
        "SetAccountVerdict": {"id": a, "verdict": "NEEDS_REVIEW"},
        "AddAccountNote": {"id": a, "text": "matrix"}, "AuditLog": {}, "RequestRefresh": {},
        "Viewer": {}, "TriageQueue": {}, "FeedEvents": {}, "ClusterDecision": {"id": c},
        "ClusterTimeline": {"id": c}, "ClusterMembersExport": {"id": c},
    }  # fmt: skip


def test_every_named_operation_is_in_the_role_matrix() -> None:
    assert set(DOCUMENTS) == set(EXPECTED)


def test_role_matrix(api: Api, target: dict[str, Any]) -> None:
    variables = _variables(target)
    for operation, allowed in EXPECTED.items():
        for role in Role:
            body = api.run(role, operation, **variables[operation])
            if role in allowed:
                assert "errors" not in body, (operation, role, body["errors"])
                assert body["data"], (operation, role)
                if operation == "RequestRefresh":
                    task = body["data"]["requestRefresh"]["taskId"]
                    assert AsyncResult(task).get(timeout=300)["status"] in {"done", "skipped"}
            else:
                assert body.get("data") is None, (operation, role, body)
                codes = {e["extensions"]["code"] for e in body["errors"]}
                assert codes == {"FORBIDDEN"}, (operation, role, body["errors"])


# --- what analysts and ban tooling get ------------------------------------------------------


def test_cluster_review_explains_its_risk_and_pages_members_exactly(
    api: Api, target: dict[str, Any]
) -> None:
    cluster = api.data(Role.ANALYST, "ClusterReview", id=target["cluster"], first=7)["cluster"]
    x = cluster["explanation"]
    assert math.isclose(x["logit"], x["bias"] + sum(c["contribution"] for c in x["contributions"]),
                        abs_tol=1e-3)  # fmt: skip
    assert math.isclose(cluster["risk"], 1 / (1 + math.exp(-x["logit"])), abs_tol=2e-3)
    assert any(e["kind"] == "PAYMENT_METHOD" for e in cluster["evidence"])
    assert {f["name"] for f in cluster["features"]} >= {"size", "density"}
    seen: list[str] = []
    after = None
    while True:
        page = api.data(
            Role.BANTOOL, "BanClusterMembers", id=target["cluster"], first=7, after=after,
            minConfidence=0.0,
        )["cluster"]["members"]  # fmt: skip
        seen += [e["node"]["accountId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == target["size"]
    confidences = [e["node"]["confidence"] for e in cluster["members"]["edges"]]
    assert confidences == sorted(confidences, reverse=True)
    assert cluster["members"]["edges"][0]["node"]["account"]["id"]
    assert cluster["networkId"].startswith("nw-") and cluster["risk"] >= 0.5
    # Each member's why: its strongest ties into the cluster, which give back its confidence.
    for edge in cluster["members"]["edges"]:
        member, why = edge["node"], edge["node"]["why"]
        assert 1 <= len(why["ties"]) <= 3
        assert all(2 <= t["members"] <= min(t["holders"], target["size"]) for t in why["ties"])
        strength = 1 - math.exp(-why["tieStrength"])
        expected = strength * (0.6 + 0.4 * why["behaviourSimilarity"])
        assert math.isclose(member["confidence"], expected, abs_tol=2e-3), member


def test_account_investigation_identifiers_path_and_subgraph(
    api: Api, target: dict[str, Any], driver: Driver, settings: Settings
) -> None:
    a, b = target["members"]
    account = api.data(Role.ANALYST, "AccountInvestigation", id=a)["account"]
    assert account["cluster"]["clusterId"] == target["cluster"]
    assert 0 <= account["cluster"]["confidence"] <= 1
    card = next(i for i in account["identifiers"]
                if i["kind"] == "PAYMENT_METHOD" and i["value"] == target["card"])  # fmt: skip
    assert card["degree"] >= 2
    assert len(account["behaviour"]["hourHistogram"]) == 24

    holders = api.data(Role.ANALYST, "IdentifierHolders", kind="PAYMENT_METHOD",
                       value=target["card"], first=500)["identifier"]  # fmt: skip
    assert holders["degree"] == card["degree"] == len(holders["accounts"]["edges"])
    assert {a, b} <= {e["node"]["accountId"] for e in holders["accounts"]["edges"]}

    linked = api.data(Role.ANALYST, "LinkedAccounts", id=a, first=50)["account"]["linkedAccounts"]
    by_id = {e["node"]["accountId"]: e["node"] for e in linked["edges"]}
    counts = [e["node"]["sharedCount"] for e in linked["edges"]]
    assert counts == sorted(counts, reverse=True)
    if b in by_id:
        assert {"kind": "PAYMENT_METHOD", "value": target["card"], "degree": card["degree"]} in (
            by_id[b]["shared"]
        )

    path = api.data(Role.ANALYST, "AccountPath", **{"from": a, "to": b})["path"]
    assert path["hops"] == 1 and path["accountIds"] == [a, b]
    via = path["steps"][0]["via"]
    b_holds = api.data(Role.ANALYST, "AccountInvestigation", id=b)["account"]["identifiers"]
    assert any(i["kind"] == via["kind"] and i["value"] == via["value"] for i in b_holds)

    # A chain through a hub (an exit held by more than DETECTION_LINK_CAP accounts) is no
    # chain: two accounts sharing only that have no path, one more holder of a card links them.
    hub = [f"hub-{i:04d}" for i in range(settings.DETECTION_LINK_CAP + 1)]
    try:
        driver.execute_query(
            "UNWIND $ids AS id MERGE (a:Account {id: id}) MERGE (i:IP {key: 'hub-exit'}) "
            "MERGE (a)-[:USED_IP]->(i)", ids=hub, database_=settings.NEO4J_DATABASE,
        )  # fmt: skip
        path = api.data(Role.ANALYST, "AccountPath", **{"from": hub[0], "to": hub[1]})["path"]
        assert path is None
        driver.execute_query(
            "UNWIND $ids AS id MATCH (a:Account {id: id}) MERGE (c:PaymentMethod {key: 'hub-card'}) "
            "MERGE (a)-[:PAID_WITH]->(c)", ids=hub[:2], database_=settings.NEO4J_DATABASE,
        )  # fmt: skip
        path = api.data(Role.ANALYST, "AccountPath", **{"from": hub[0], "to": hub[1]})["path"]
        assert path["steps"][0]["via"] == {"kind": "PAYMENT_METHOD", "value": "hub-card"}
    finally:
        driver.execute_query(
            "MATCH (n) WHERE n.id STARTS WITH 'hub-' OR n.key STARTS WITH 'hub-' DETACH DELETE n",
            database_=settings.NEO4J_DATABASE,
        )

    sub = api.data(Role.ANALYST, "ClusterSubgraph", id=target["cluster"], limit=20)["cluster"]
    accounts = {n["id"] for n in sub["subgraph"]["accounts"]}
    identifiers = {n["id"] for n in sub["subgraph"]["identifiers"]}
    assert len(accounts) == min(20, target["size"]) and identifiers
    for edge in sub["subgraph"]["edges"]:
        assert edge["accountId"] in accounts and edge["identifierId"] in identifiers


def test_verdicts_notes_audit_and_the_ban_list(
    api: Api, target: dict[str, Any], tmp_path: Path, settings: Settings, driver: Driver
) -> None:
    last = max([e["seq"] for e in api.data(Role.BANTOOL, "BanFeed", first=500)["clusterEvents"]]
               or [0])  # fmt: skip
    c, (a, _) = target["cluster"], target["members"]
    api.data(Role.ANALYST, "SetClusterVerdict", id=c, verdict="CONFIRMED_FRAUD", note="cards")
    api.data(Role.ANALYST, "AddClusterNote", id=c, text="shared prepaid cards + one proxy")
    api.data(Role.ANALYST, "SetAccountVerdict", id=a, verdict="FALSE_POSITIVE", note="employee")

    feed = api.data(Role.BANTOOL, "BanFeed", after=last)["clusterEvents"]
    assert [(e["seq"], e["type"], e["clusterId"], e["verdict"], e["actor"]) for e in feed] == [
        (last + 1, "VERDICT_SET", c, "CONFIRMED_FRAUD", "test-analyst")
    ]
    review = api.data(Role.ANALYST, "ClusterReview", id=c, first=1)["cluster"]
    assert review["verdict"]["verdict"] == "CONFIRMED_FRAUD"
    assert review["notes"][-1]["text"] == "shared prepaid cards + one proxy"
    audit = api.data(Role.ADMIN, "AuditLog", targetId=c)["auditLog"]["edges"]
    actions = [e["node"]["action"] for e in audit]
    assert actions[:2] == ["add_note", "set_cluster_verdict"]
    verdict = audit[1]["node"]
    assert verdict["after"]["verdict"] == "CONFIRMED_FRAUD" and verdict["actor"] == "test-analyst"
    assert a not in {e["node"]["targetId"] for e in audit}
    # With its members: the member cleared by hand too (audited on the account), newest first.
    trail = api.data(Role.ANALYST, "AuditLog", targetId=c, includeMembers=True)["auditLog"]
    assert [(e["node"]["action"], e["node"]["targetId"]) for e in trail["edges"]][:3] == [
        ("set_account_verdict", a), ("add_note", c), ("set_cluster_verdict", c)
    ]  # fmt: skip

    # The ban list: every page, the account cleared by hand left out, the same as export-bans.
    rows, after = [], None
    while True:
        page = api.data(Role.BANTOOL, "BanCandidates", first=100, after=after)["banCandidates"]
        rows += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert a not in {r["accountId"] for r in rows}
    assert {r["reason"] for r in rows if r["clusterId"] == c} == {"CLUSTER_CONFIRMED"}
    assert len({(r["clusterId"], r["accountId"]) for r in rows}) == len(rows)
    out = tmp_path / "bans.ndjson"
    result = CliRunner().invoke(cli, ["export-bans", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["cluster_id"], r["account_id"]) for r in exported] == [
        (r["clusterId"], r["accountId"]) for r in rows
    ]
    # Each flagged cluster's rows carry its network, the same in both.
    assert all(r["networkId"] for r in rows if r["clusterRisk"] >= 0.5)
    assert [r["network_id"] for r in exported] == [r["networkId"] for r in rows]
    # Each row says why, the same in both: the strongest ties, tie strength, behaviour.
    assert all(r["why"] and r["why"]["ties"] for r in rows)
    assert [[t[1] for t in r["why"]["ties"]] for r in exported] == [
        [t["value"] for t in r["why"]["ties"]] for r in rows
    ]

    # With a confirmed gate of 0.5 (opt-in), a member of the confirmed cluster at 0.6 is listed
    # (a regrowth account with one exchange sits there at 0.54-0.70); elsewhere 0.7 still holds.
    db = settings.NEO4J_DATABASE
    unconfirmed = next(r for r in rows if r["clusterId"] != c and r["reason"] == "RISK_THRESHOLD")
    members = [r["accountId"] for r in rows if r["clusterId"] == c]
    gated = {c: members[0], unconfirmed["clusterId"]: unconfirmed["accountId"]}
    confidence = (
        "MATCH (:Account {id: $a})-[m:MEMBER_OF]->(c:Cluster {id: $c}) "
        f"WHERE {CURRENT_MEMBERSHIP} WITH m, m.confidence AS was SET m.confidence = $to RETURN was"
    )
    saved = {cid: driver.execute_query(confidence, a=aid, c=cid, to=0.6, database_=db)[0][0]["was"]
             for cid, aid in gated.items()}  # fmt: skip
    try:

        def listed(**variables: Any) -> set[tuple[str, str]]:
            found, cursor = set(), None
            while True:
                page = api.data(Role.BANTOOL, "BanCandidates", first=500, after=cursor,
                                **variables)["banCandidates"]  # fmt: skip
                found |= {(e["node"]["clusterId"], e["node"]["accountId"]) for e in page["edges"]}
                if not page["pageInfo"]["hasNextPage"]:
                    return found
                cursor = page["pageInfo"]["endCursor"]

        opted_in = listed(minConfidenceConfirmed=0.5)
        assert (c, gated[c]) in opted_in
        assert (unconfirmed["clusterId"], unconfirmed["accountId"]) not in opted_in
        assert (c, gated[c]) not in listed()  # the default: 0.7 everywhere
        # ...and never more than anyone else's gate.
        assert (c, gated[c]) in listed(minConfidence=0.55, minConfidenceConfirmed=0.7)
    finally:
        for cid, aid in gated.items():
            driver.execute_query(confidence, a=aid, c=cid, to=saved[cid], database_=db)

    # A cluster in the confirmed cluster's network is banned under that verdict whatever its
    # risk (an operation back on the infrastructure it was banned on; `regrown` in the feed).
    records, _, _ = driver.execute_query(
        "MATCH (c:Cluster {id: $c}) MATCH (o:Cluster {status: 'active'}) WHERE o.id <> $c "
        "RETURN c.network AS network, o.id AS other, o.network AS was LIMIT 1", c=c, database_=db,
    )  # fmt: skip
    network, other, was = records[0]["network"], records[0]["other"], records[0]["was"]
    assert network
    move = "MATCH (o:Cluster {id: $o}) SET o.network = $n"
    driver.execute_query(move, o=other, n=network, database_=db)
    try:
        reasons, cursor = set(), None
        while True:
            strict = api.data(
                Role.BANTOOL, "BanCandidates", first=500, after=cursor, minRisk=1.01,
                minConfidence=0.0,
            )["banCandidates"]  # fmt: skip
            reasons |= {(e["node"]["clusterId"], e["node"]["reason"]) for e in strict["edges"]}
            if not strict["pageInfo"]["hasNextPage"]:
                break
            cursor = strict["pageInfo"]["endCursor"]
        assert (other, "NETWORK_CONFIRMED") in reasons and (c, "CLUSTER_CONFIRMED") in reasons
        # Nothing else passes a risk of 1.01 but the network's clusters (its other parts too).
        in_network, _, _ = driver.execute_query(
            "MATCH (o:Cluster {network: $n, status: 'active'}) RETURN collect(o.id) AS ids",
            n=network, database_=db,
        )  # fmt: skip
        assert {cid for cid, _ in reasons} == set(in_network[0]["ids"]) | {c}
        assert {r for cid, r in reasons if cid != c} == {"NETWORK_CONFIRMED"}
    finally:
        driver.execute_query(move, o=other, n=was, database_=db)


def test_account_reads_carry_every_temporal_as_epoch_millis(
    target: dict[str, Any], settings: Settings, driver: Driver
) -> None:
    """`ACCOUNTS_BY_ID` converts the temporal properties `ACCOUNT_TEMPORALS` names (hydrating
    Neo4j DateTimes was a sixth of the API's CPU); one added elsewhere and not named there would
    come back as a DateTime, and fails here. Runs after a verdict was set on an account."""
    (found,), _, _ = driver.execute_query(
        "MATCH (a:Account) UNWIND keys(a) AS k WITH DISTINCT k, a[k] AS v "
        "WHERE v IS :: ZONED DATETIME OR v IS :: LOCAL DATETIME OR v IS :: DATE "
        "OR v IS :: DURATION OR v IS :: ZONED TIME OR v IS :: LOCAL TIME "
        "RETURN collect(DISTINCT k) AS keys",
        database_=settings.NEO4J_DATABASE,
    )
    assert "verdict_at" in found["keys"] and set(found["keys"]) <= set(ACCOUNT_TEMPORALS)
    (record,), _, _ = driver.execute_query(
        ACCOUNTS_BY_ID, ids=target["members"], database_=settings.NEO4J_DATABASE
    )
    rows = record["rows"]
    assert len(rows) == len(target["members"])
    for row in rows:
        assert all(not hasattr(v, "to_native") for v in row["props"].values()), row["props"]
        assert row["membership"]["cluster_id"] == target["cluster"]


def test_ban_feed_resumes_after_a_second_ingest_and_refresh(
    api: Api, target: dict[str, Any], driver: Driver, settings: Settings
) -> None:
    c = target["cluster"]
    api.data(Role.ANALYST, "SetClusterVerdict", id=c, verdict="CONFIRMED_FRAUD")
    cursor = max(e["seq"] for e in api.data(Role.BANTOOL, "BanFeed", first=500)["clusterEvents"])
    while batch := api.data(Role.BANTOOL, "BanFeed", after=cursor)["clusterEvents"]:
        cursor = batch[-1]["seq"]
    # Three new accounts pay with the confirmed network's card.
    extra = api.seed_dir / "second.jsonl"
    extra.write_text("".join(
        json.dumps({"type": "billing", "event_id": f"second-{i}", "account_id": f"a-late-{i}",
                    "occurred_at": "2026-02-25T10:00:00Z",
                    "payment_fingerprint": target["card"]}) + "\n"
        for i in range(3)
    ))  # fmt: skip
    ingest(settings, extra)
    assert refresh_task.delay().get(timeout=300)["status"] == "done"

    fresh = api.data(Role.BANTOOL, "BanFeed", after=cursor)["clusterEvents"]
    assert fresh and [e["seq"] for e in fresh] == list(range(cursor + 1, cursor + 1 + len(fresh)))
    assert api.data(Role.BANTOOL, "BanFeed", after=fresh[-1]["seq"])["clusterEvents"] == []
    cluster = api.data(Role.BANTOOL, "BanClusterMembers", id=c, minConfidence=0.0)["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["verdict"]["verdict"] == "CONFIRMED_FRAUD"
    members = {e["node"]["accountId"] for e in cluster["members"]["edges"]}
    assert {"a-late-0", "a-late-1", "a-late-2"} & members
    assert any(e["clusterId"] == c and e["type"] == "GROWN" for e in fresh)


def test_viewer_feed_head_and_cluster_count(api: Api) -> None:
    viewer = api.data(Role.BANTOOL, "Viewer")
    assert viewer["viewer"] == {"name": "test-bantool", "role": "bantool"}
    seqs, after = [], 0
    while batch := api.data(Role.BANTOOL, "FeedEvents", after=after)["clusterEvents"]:
        seqs += [e["seq"] for e in batch]
        after = seqs[-1]
    assert seqs and viewer["feedHead"] == seqs[-1] == len(seqs)
    for min_risk in (0.0, 0.5, 0.9):
        queue = api.data(Role.BANTOOL, "TriageQueue", minRisk=min_risk, first=500)
        assert not queue["clusters"]["pageInfo"]["hasNextPage"]
        listed = queue["clusters"]["edges"]
        assert queue["clusterCount"] == len(listed), min_risk
        assert all(e["node"]["risk"] >= min_risk for e in listed)
    unreviewed = api.data(Role.ANALYST, "TriageQueue", minRisk=0.0, verdict="NONE", first=500)
    assert unreviewed["clusterCount"] == sum(
        1 for e in unreviewed["clusters"]["edges"] if e["node"]["verdict"] is None
    )


class CountingDriver:
    """Counts the statements resolvers run (every read opens a session and runs one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def session(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.session(**kwargs)


def test_a_page_costs_the_same_round_trips_whatever_its_size(
    api: Api, target: dict[str, Any], settings: Settings
) -> None:
    import asyncio

    from backend.api.graphql.context import Context
    from backend.api.graphql.schema import build_schema
    from backend.auth.tokens import Principal
    from backend.graph.driver import create_async_driver

    query = """query($id: ID!, $first: Int!) { cluster(id: $id) { members(first: $first) {
      edges { node { confidence account { id email cluster { confidence cluster { risk } }
        identifiers { kind degree identifier { degree attributes } }
        behaviour { exchanges models { model } } notes { text }
      } } } } } }"""
    schema = build_schema(settings)

    async def round_trips(first: int) -> tuple[int, int]:
        driver = create_async_driver(settings)
        counting = CountingDriver(driver)
        try:
            context = Context(counting, settings, Principal("tok", "loader-test", Role.ADMIN))  # type: ignore[arg-type]
            result = await schema.execute(
                query, variable_values={"id": target["cluster"], "first": first},
                context_value=context,
            )  # fmt: skip
            assert result.errors is None, result.errors
            assert result.data is not None
            return counting.calls, len(result.data["cluster"]["members"]["edges"])
        finally:
            await driver.close()

    small = asyncio.run(round_trips(2))
    large = asyncio.run(round_trips(min(target["size"], 60)))
    assert large[1] > small[1] >= 2
    # cluster, members page, accounts, memberships, their clusters, identifiers, models, notes,
    # and one per identifier kind for the identifiers' details (not one per identifier)
    kinds = len(IdentifierKind)
    assert small[0] <= large[0] <= 8 + kinds, (small, large)


def test_plain_field_completion_gives_every_named_query_graphql_cores_answer(
    api: Api, target: dict[str, Any], settings: Settings
) -> None:
    """The served schema completes plain lists its own way (`api/graphql/execution.py`): on the
    real graph, every named query (and a member page after a cursor) answers exactly as
    strawberry's stock executor does, and the member pages do take that way."""
    import asyncio

    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from backend.api.graphql.context import Context
    from backend.api.graphql.execution import PlainFieldsExecutionContext
    from backend.api.graphql.schema import build_schema
    from backend.auth.tokens import Principal
    from backend.graph.driver import create_async_driver

    compiled: list[str] = []

    class Recording(PlainFieldsExecutionContext):
        def _list_plan(self, return_type: Any, details: Any) -> Any:
            plan = super()._list_plan(return_type, details)
            if plan is not None:
                compiled.append(str(return_type))
            return plan

    plain, stock = build_schema(settings), build_schema(settings)
    plain.execution_context_class = Recording
    stock.execution_context_class = StrawberryGraphQLCoreExecutionContext
    variables = _variables(target)
    queries = [(op, variables[op]) for op, text in DOCUMENTS.items() if f"query {op}" in text]
    assert {"ClusterReview", "AccountInvestigation", "BanCandidates"} <= {op for op, _ in queries}

    async def compare() -> None:
        driver = create_async_driver(settings)
        principal = Principal("tok", "executor-test", Role.ADMIN)
        try:

            async def both(operation: str, values: dict[str, Any]) -> Any:
                results = [
                    await schema.execute(
                        DOCUMENTS[operation], variable_values=values, operation_name=operation,
                        context_value=Context(driver, settings, principal),
                    )
                    for schema in (plain, stock)
                ]  # fmt: skip
                (a, b) = results
                assert a.errors is None and b.errors is None, (operation, a.errors, b.errors)
                assert json.dumps(a.data) == json.dumps(b.data), operation
                return a.data

            for operation, values in queries:
                await both(operation, values)
            page = await both("ClusterReview", {"id": target["cluster"], "first": 3})
            after = page["cluster"]["members"]["pageInfo"]["endCursor"]
            await both("ClusterReview", {"id": target["cluster"], "first": 3, "after": after})
        finally:
            await driver.close()

    asyncio.run(compare())
    assert "[ClusterMemberEdge!]" in compiled, compiled


def test_a_member_page_seeks_its_cluster_in_confidence_order(
    driver: Driver, settings: Settings, target: dict[str, Any]
) -> None:
    """Pages seek the (cluster, confidence) index and stop at the page size: a member page of a
    15,000-account cluster does not sort 15,000 memberships. With an id of a real cluster's
    length the planner preferred scanning the whole index until the hint said seek."""
    from backend.investigation.repository import CLUSTER_MEMBERS, SUBGRAPH

    for query, extra in ((CLUSTER_MEMBERS, {"after_id": None}),
                         (SUBGRAPH, {"rels": [], "max_identifiers": 10})):  # fmt: skip
        _, summary, _ = driver.execute_query(
            "EXPLAIN " + query, id=target["cluster"], min_confidence=0.0, after_c=None,
            limit=5, database_=settings.NEO4J_DATABASE, **extra,
        )  # fmt: skip
        operators: list[str] = []

        def walk(plan: Any) -> None:
            operators.append(plan["operatorType"].split("@")[0])
            for child in plan.get("children", []):
                walk(child)

        walk(summary.plan)
        assert "DirectedRelationshipIndexSeek" in operators, operators
        # Above the seek, only a partial sort (the subgraph's later Top ranks identifiers).
        above = operators[: operators.index("DirectedRelationshipIndexSeek")]
        assert "PartialTop" in above and not {"Top", "Sort"} & set(above), operators
    missing, _, _ = driver.execute_query(
        "MATCH ()-[m:MEMBER_OF]->() WHERE m.cluster IS NULL RETURN count(m) AS n",
        database_=settings.NEO4J_DATABASE,
    )
    assert missing[0]["n"] == 0


# --- abuse limits and injection ---------------------------------------------------------------


def test_depth_alias_token_page_body_and_batching_limits(
    api: Api, target: dict[str, Any], settings: Settings
) -> None:
    c = target["cluster"]
    deep = (
        "{ cluster(id: $id) { lineage { parents { cluster { lineage { parents { cluster {"
        " lineage { parents { cluster { lineage { parents { clusterId } } } } } } } } } } } } }"
    )
    aliases = " ".join(f"a{i}: apiVersion" for i in range(settings.GRAPHQL_MAX_ALIASES + 1))
    many = " ".join("apiVersion" for _ in range(settings.GRAPHQL_MAX_TOKENS))
    # 15 aliases of 500 clusters x 500 members: within depth and alias limits, refused on cost.
    members = "members(first: 500) { edges { node { accountId } } }"
    costly = " ".join(f"a{i}: clusters(first: 500) {{ edges {{ node {{ {members} }} }} }}"
                      for i in range(15))  # fmt: skip
    huge = {"query": "{ apiVersion }", "variables": {"pad": "x" * settings.GRAPHQL_MAX_BODY_BYTES}}
    # Every limit holds whatever the role (the role rule is not what stops these).
    for role in (Role.ANALYST, Role.BANTOOL, Role.ADMIN):
        body = api.query(role, deep.replace("$id", json.dumps(c)))
        assert body.get("data") is None
        assert "exceeds maximum operation depth" in body["errors"][0]["message"], role
        body = api.query(role, f"{{ {aliases} }}")
        assert body.get("data") is None and "aliases" in body["errors"][0]["message"].lower()
        body = api.query(role, f"{{ {many} }}")
        assert body.get("data") is None and "token" in body["errors"][0]["message"].lower()
        body = api.query(role, f"{{ {costly} }}")
        assert body.get("data") is None and "query cost" in body["errors"][0]["message"], role
        assert api.post(api.tokens[role], huge).status_code == 413
    assert api.run(Role.ANALYST, "ClusterReview", id=c, first=500)["data"]["cluster"]

    body = api.run(Role.BANTOOL, "BanCandidates", first=501)
    assert body["data"] is None or body["data"]["banCandidates"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 1 and 500" in body["errors"][0]["message"]
    body = api.run(Role.BANTOOL, "BanCandidates", after="not-a-cursor")
    assert body["errors"][0]["message"] == "invalid cursor"

    batch = [{"query": "{ apiVersion }"}, {"query": "{ apiVersion }"}]
    response = api.post(api.tokens[Role.ADMIN], batch)
    assert response.status_code == 400 or "errors" in response.json()
    got = httpx.get(f"{api.url}/graphql", params={"query": "{ apiVersion }"},
                    headers={"authorization": f"Bearer {api.tokens[Role.ADMIN]}"})  # fmt: skip
    assert "0.1.0" not in got.text


PAYLOADS = [
    "' OR 1=1 //",
    'x"}) MATCH (n) DETACH DELETE n //',
    "a-0000001'}) DETACH DELETE a RETURN 1 //",
    "$id",
    "\\u0027 }) CALL { MATCH (n) SET n.pwned = true } //",
]


def _graph_fingerprint(driver: Driver, settings: Settings) -> tuple[Any, ...]:
    nodes = _cypher(
        driver, settings, "MATCH (n) RETURN labels(n)[0] AS l, count(*) AS n ORDER BY l"
    )
    rels = _cypher(
        driver, settings, "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t"
    )
    pwned = _cypher(driver, settings, "MATCH (n) WHERE n.pwned IS NOT NULL RETURN count(n) AS n")
    return tuple((r["l"], r["n"]) for r in nodes), tuple((r["t"], r["n"]) for r in rels), pwned


def _injection_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """For every root field with a String or ID argument: a query that puts the payload in each
    such argument and a valid value in the rest (mutations get unknown ids: nothing to change)."""
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLList,
        GraphQLNonNull,
        GraphQLObjectType,
        get_named_type,
    )

    from backend.api.graphql.schema import schema

    out = []
    for root in ("Query", "Mutation"):
        gql_type = schema._schema.type_map[root]
        assert isinstance(gql_type, GraphQLObjectType)
        for name, field in gql_type.fields.items():
            decls, args, variables = [], [], {}
            has_string = False
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                type_str = str(arg.type)
                if named.name in ("String", "ID"):
                    has_string = True
                    value: Any = "__PAYLOAD__"
                    if isinstance(arg.type, GraphQLList) or (
                        isinstance(arg.type, GraphQLNonNull)
                        and isinstance(arg.type.of_type, GraphQLList)
                    ):
                        value = ["__PAYLOAD__"]
                    if name == "addNote" and arg_name == "accountId":
                        continue  # exactly one target; the cluster id carries the payload
                elif not isinstance(arg.type, GraphQLNonNull):
                    continue
                elif isinstance(named, GraphQLEnumType):
                    value = next(iter(named.values))
                elif isinstance(named, GraphQLInputObjectType):
                    value = {}
                else:
                    value = {"Int": 1, "Float": 0.5, "Boolean": False}[named.name]
                decls.append(f"${arg_name}: {type_str}")
                args.append(f"{arg_name}: ${arg_name}")
                variables[arg_name] = value
            if not has_string:
                continue
            ret = get_named_type(field.type)
            selection = " { __typename }" if isinstance(ret, GraphQLObjectType) else ""
            kind = "query" if root == "Query" else "mutation"
            text = f"{kind} Probe({', '.join(decls)}) {{ {name}({', '.join(args)}){selection} }}"
            out.append((name, text, variables))
    return out


def test_injection_payloads_in_every_string_argument_change_nothing(
    api: Api, driver: Driver, settings: Settings
) -> None:
    operations = _injection_operations()
    assert {name for name, _, _ in operations} >= {
        "account", "accounts", "identifier", "cluster", "path", "banCandidates", "clusters",
        "auditLog", "setClusterVerdict", "setAccountVerdict", "addNote",
    }  # fmt: skip
    before = _graph_fingerprint(driver, settings)
    for payload in PAYLOADS:
        for name, text, variables in operations:
            filled = json.loads(json.dumps(variables).replace("__PAYLOAD__", payload.replace(
                "\\", "\\\\").replace('"', '\\"')))  # fmt: skip
            body = api.query(Role.ADMIN, text, **filled)
            for error in body.get("errors", []):
                # Bad cursors and unknown ids are client errors; nothing reached Cypher as code.
                assert error["extensions"]["code"] in {"BAD_USER_INPUT", "NOT_FOUND"}, (
                    name, payload, error,
                )  # fmt: skip
    assert _graph_fingerprint(driver, settings) == before


def test_token_and_gql_commands(api: Api) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "--name", "cli-bantool", "--role", "bantool"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("hrc_")
    again = runner.invoke(cli, ["token", "create", "--name", "cli-bantool", "--role", "bantool"])
    assert again.exit_code == 1 and "already named" in again.output
    assert runner.invoke(cli, ["token", "create", "--name", "x", "--role", "root"]).exit_code == 2
    listing = runner.invoke(cli, ["token", "list"])
    assert "cli-bantool" in listing.output and token not in listing.output

    ok = runner.invoke(cli, ["gql", "TopClusters", "--token", token, "--var", "first=2"])
    assert ok.exit_code == 0, ok.output
    assert len(json.loads(ok.output)["data"]["clusters"]["edges"]) == 2
    denied = runner.invoke(cli, ["gql", "AuditLog", "--token", token])
    assert denied.exit_code == 1 and "FORBIDDEN" in denied.output

    assert runner.invoke(cli, ["token", "revoke", "cli-bantool"]).exit_code == 0
    assert runner.invoke(cli, ["token", "revoke", "no-such-token"]).exit_code == 1


# --- hostile requests (issue 14) --------------------------------------------------------


def test_hostile_requests_are_refused_cheaply_and_leave_no_trace(
    api: Api, target: dict[str, Any], settings: Settings
) -> None:
    ingest_token = api.tokens[Role.INGEST]
    auth = {"authorization": f"Bearer {ingest_token}"}
    events = f"{api.url}/v1/events"
    # A line nested 5,000 levels deep is one rejected line, not an HTTP 500.
    deep_line = '{"type":"usage","event_id":"deep","x":' + "[" * 5000 + "]" * 5000 + "}"
    response = httpx.post(events, content=deep_line, timeout=60,
                          headers={**auth, "content-type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 202, response.text
    assert response.json()["rejected"] == 1
    assert "recursion limit" in response.json()["errors"][0]["reason"]
    # The same depth as a JSON-array body: a clear 400, not a reset connection.
    response = httpx.post(events, content="[" * 5000 + "]" * 5000, timeout=60,
                          headers={**auth, "content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400 and "nested too deeply" in response.text
    # NDJSON whose first line starts with `[` is still NDJSON: one bad line, not a refused body.
    response = httpx.post(events, content='[1]\n{"type":"session"}', timeout=60,
                          headers={**auth, "content-type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 202 and response.json()["rejected"] == 2
    # A path answered before routing never becomes a metrics label.
    big = b"x" * (settings.GRAPHQL_MAX_BODY_BYTES + 1)
    odd = "/graphql-cardinality-probe-7f3a"
    assert httpx.post(f"{api.url}{odd}", content=big, timeout=60).status_code in {404, 413}
    assert odd not in httpx.get(f"{api.url}/metrics", timeout=10).text
    # Ban tooling reads a verdict, never the analyst's note on it.
    api.data(Role.ANALYST, "SetClusterVerdict", id=target["cluster"], verdict="NEEDS_REVIEW",
             note="internal reasoning")  # fmt: skip
    query = "query($id: ID!) { cluster(id: $id) { verdict { verdict note } } }"
    body = api.query(Role.BANTOOL, query, id=target["cluster"])
    assert body.get("data") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    verdict = api.query(Role.ANALYST, query, id=target["cluster"])["data"]["cluster"]["verdict"]
    assert verdict == {"verdict": "NEEDS_REVIEW", "note": "internal reasoning"}


def test_no_websocket_route_on_graphql(api: Api) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = api.url.replace("http://", "ws://") + "/graphql"
    with pytest.raises(InvalidStatus):
        connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10).close()  # type: ignore[list-item]


def test_event_text_is_never_read_as_terminal_markup(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "markup.jsonl"
    path.write_text('{"type":"[/]","event_id":"m1"}\n{"type":"[bold red]x[/]"}\n')
    result = CliRunner().invoke(cli, ["ingest", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output
    listing = CliRunner().invoke(cli, ["dlq", "list", "--limit", "1000"])
    assert listing.exit_code == 0, listing.output
    assert "[/]" in listing.output


def test_a_read_past_its_time_limit_is_stopped_and_said_so(stack: Settings) -> None:
    """Neo4j ends a read at `API_QUERY_TIMEOUT_S`; the client is told, not shown a driver error."""
    import asyncio

    from backend.api.graphql.errors import should_mask
    from backend.graph.driver import create_async_driver
    from backend.investigation.repository import QueryTimedOut, Reads, read

    slow = "UNWIND range(1, 10000000000) AS x WITH x WHERE x < 0 RETURN count(*) AS n"

    async def run() -> None:
        driver = create_async_driver(stack)
        try:
            started = time.monotonic()
            with pytest.raises(QueryTimedOut) as caught:
                await read(Reads(driver, stack.NEO4J_DATABASE, 0.5), slow)
            assert time.monotonic() - started < 30  # unbounded, it would run for minutes
            assert "0.5 s limit" in str(caught.value)
            assert not should_mask(GraphQLError("x", original_error=caught.value))
        finally:
            await driver.close()

    asyncio.run(run())
