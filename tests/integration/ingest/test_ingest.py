"""Ingest through the real worker: the graph model, idempotency, order, bad input, HTTP."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import httpx
import pytest
import redis
from neo4j import Driver

from backend.core.config import Settings
from backend.ingest import dlq
from tests.eventgen import population
from tests.integration.ingest_helpers import (
    count,
    holding_flush_lock,
    ingest,
    reset_state,
    snapshot,
    write_file,
)
from tests.paths import EXAMPLES


@pytest.fixture
def fresh(driver: Driver, settings: Settings) -> Driver:
    reset_state(driver, settings)
    return driver


def _one(driver: Driver, settings: Settings, query: str) -> dict:
    records, _, _ = driver.execute_query(query, database_=settings.NEO4J_DATABASE)
    assert len(records) == 1, records
    return dict(records[0])


def test_each_event_type_lands_as_the_model_says(fresh: Driver, settings: Settings) -> None:
    report = ingest(settings, EXAMPLES)
    assert report.stats.accepted == 5 and report.stats.applied == 5
    account = _one(fresh, settings, "MATCH (a:Account {id: 'a-000001'}) RETURN a")["a"]
    assert account["email"] == "liwei@gmail.com" and account["country"] == "SG"
    assert account["signup_at"].iso_format().startswith("2026-02-01T09:12:44")
    assert (account["exchanges"], account["tokens_in"], account["tokens_out"]) == (1, 1840, 3120)
    assert (account["cap_reasoning"], account["cot_elicitations"], account["sessions"]) == (1, 1, 1)
    assert (account["charges"], account["amount_minor"], account["distinct_ips"]) == (1, 500, 2)
    assert account["hour_hist"][18] == 1 and sum(account["hour_hist"]) == 1
    links = {
        (r["type"], r["key"]): r["count"]
        for r in fresh.execute_query(
            "MATCH (:Account {id: 'a-000001'})-[r]->(i) RETURN type(r) AS type, i.key AS key, r.count AS count",
            database_=settings.NEO4J_DATABASE,
        ).records
    }
    assert links[("PAID_WITH", "pm-7c1d0a")] == 1
    assert links[("USED_DEVICE", "d-9f2c1e")] == 2  # signup and session
    assert links[("USED_IP", "203.0.113.17")] == 2  # signup and billing
    assert links[("VIA_PROXY", "relaybridge")] == 2
    assert links[("USED_TEMPLATE", "0:9f3a")] == 1
    assert links[("USED_MODEL", "frontier-2")] == 1
    assert links[("EMAIL_DOMAIN", "gmail.com")] == 1
    card = _one(fresh, settings, "MATCH (p:PaymentMethod {key: 'pm-7c1d0a'}) RETURN p")["p"]
    assert (card["funding"], card["bin"], card["card_country"]) == ("virtual", "535522", "HK")
    ip = _one(
        fresh, settings, "MATCH (i:IP {key: '203.0.113.17'})-[:IN_SUBNET]->(s) RETURN i, s.key AS s"
    )
    assert ip["s"] == "203.0.113.0/24" and ip["i"]["kind"] == "proxy"
    model = _one(fresh, settings, "MATCH (m:Model {key: 'frontier-2'}) RETURN m")["m"]
    assert model["released_at"].iso_format().startswith("2026-02-10T17:00:00")
    domain = _one(fresh, settings, "MATCH (d:EmailDomain {key: 'gmail.com'}) RETURN d")["d"]
    assert domain["webmail"] is True
    first_use = _one(
        fresh, settings,
        "MATCH (:Account {id: 'a-000001'})-[u:USED_MODEL]->(m:Model) "
        "RETURN duration.between(m.released_at, u.first_seen).minutes AS lag",
    )  # fmt: skip
    assert first_use["lag"] == 62


def test_billing_before_signup_gives_the_same_account(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    lines = EXAMPLES.read_text().splitlines()
    billing = [line for line in lines if '"billing"' in line]
    signup = [line for line in lines if '"signup"' in line]
    ingest(settings, write_file(tmp_path / "b.jsonl", billing))
    assert (
        count(fresh, settings, "MATCH (a:Account {id: 'a-000001'}) RETURN a.email IS NULL") is True
    )
    ingest(settings, write_file(tmp_path / "s.jsonl", signup))
    assert (
        count(fresh, settings, "MATCH (a:Account {id: 'a-000001'}) RETURN a.email")
        == "liwei@gmail.com"
    )
    assert count(fresh, settings, "MATCH (a:Account) RETURN count(a)") == 1


def test_twice_shuffled_and_overlapping_deliveries_equal_one(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    lines = population(accounts=48, usage_per_account=12)
    once = write_file(tmp_path / "once.jsonl", lines)
    ingest(settings, once, batch_size=150)
    reference = snapshot(fresh, settings)
    assert count(fresh, settings, "MATCH (a:Account) RETURN count(a)") == 48

    # The same file again, then a shuffled copy, then two overlapping halves: no change.
    again = ingest(settings, once, batch_size=97)
    assert again.stats.applied == 0 and again.stats.duplicates == len(lines)
    shuffled = lines[:]
    random.Random(1).shuffle(shuffled)
    ingest(settings, write_file(tmp_path / "shuffled.jsonl", shuffled), batch_size=64)
    third = len(lines) // 3
    ingest(
        settings,
        write_file(tmp_path / "a.jsonl", shuffled[: 2 * third]),
        write_file(tmp_path / "b.jsonl", shuffled[third:]),
        batch_size=50,
    )
    assert snapshot(fresh, settings) == reference

    # From scratch in another order and batching: the same graph.
    reset_state(fresh, settings)
    duplicated = shuffled + shuffled[: len(shuffled) // 2]  # duplicates inside one delivery too
    random.Random(2).shuffle(duplicated)
    ingest(settings, write_file(tmp_path / "dup.jsonl", duplicated), batch_size=333)
    assert snapshot(fresh, settings) == reference


def test_shared_identifiers_are_single_nodes_under_concurrent_batches(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    lines = population(accounts=60, usage_per_account=10)
    ingest(settings, write_file(tmp_path / "p.jsonl", lines), batch_size=40)
    assert count(fresh, settings, "MATCH (p:PaymentMethod {key: 'pm-0'}) RETURN count(p)") == 1
    assert (
        count(
            fresh,
            settings,
            "MATCH (:PaymentMethod {key: 'pm-0'})<-[r:PAID_WITH]-() RETURN count(r)",
        )
        == 6
    )
    assert count(fresh, settings, "MATCH (a:Account) RETURN sum(a.exchanges)") == 60 * 10
    assert (
        count(fresh, settings, "MATCH (:Account)-[r:USED_MODEL]->() RETURN sum(r.count)") == 60 * 10
    )
    duplicates = count(
        fresh, settings,
        "MATCH (n) WHERE n.key IS NOT NULL WITH labels(n) AS l, n.key AS k, count(*) AS c "
        "WHERE c > 1 RETURN count(*)",
    )  # fmt: skip
    assert duplicates == 0


def test_bad_lines_are_reported_kept_and_never_block_good_ones(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    good = EXAMPLES.read_text().splitlines()
    bad_json = '{"type":"usage", oops'
    missing = json.dumps(
        {
            "type": "session",
            "event_id": "s-x",
            "account_id": "a",
            "occurred_at": "2026-02-01T00:00:00Z",
        }
    )
    bad_ip = good[2].replace("203.0.113.54", "203.0.113.540")
    bad_ts = good[4].replace("2026-02-10T18:02:31Z", "yesterday")
    huge = '{"type":"usage","event_id":"' + "z" * (10 << 20) + '"}'
    body = "\n".join(
        [good[0], bad_json, good[1], missing, "", good[2], bad_ip, bad_ts, good[3], huge, good[4]]
    )
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(body.encode() + b"\n\xff\xfe\x00garbage\n")

    report = ingest(settings, path)
    assert report.stats.accepted == 5 and report.stats.applied == 5
    assert report.stats.rejected == 6
    entries = {
        e.rejection.location: e.rejection
        for e in dlq.read(redis.Redis.from_url(settings.REDIS_URL))
    }
    assert set(entries) == {"line 2", "line 4", "line 7", "line 8", "line 10", "line 12"}
    assert entries["line 2"].reason.startswith("not valid JSON")
    assert (entries["line 4"].field, entries["line 4"].reason) == (
        "ip",
        "required field is missing",
    )
    assert entries["line 7"].field == "ip" and entries["line 7"].raw == bad_ip
    assert entries["line 8"].field == "occurred_at"
    assert "over the" in entries["line 10"].reason
    assert "not valid UTF-8" in entries["line 12"].reason
    assert all(e.source == str(path) for e in entries.values())
    assert count(fresh, settings, "MATCH (a:Account) RETURN a.exchanges") == 1


def test_empty_and_garbage_files(fresh: Driver, settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(bytes(random.Random(5).randrange(256) for _ in range(5000)))
    report = ingest(settings, empty, garbage)
    assert report.stats.accepted == 0
    assert report.stats.rejected + len(report.file_errors) >= 1
    assert count(fresh, settings, "MATCH (n) WHERE NOT n:IngestCheckpoint RETURN count(n)") == 0


def test_dlq_replay_ingests_what_is_now_valid(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from backend.cli.main import app

    good = EXAMPLES.read_text().splitlines()[1]
    client = redis.Redis.from_url(settings.REDIS_URL)
    from backend.events.validation import Rejection

    dlq.push(client, [Rejection("upstream.jsonl", "line 3", "", "fixed upstream since", good),
                      Rejection("upstream.jsonl", "line 4", "", "still bad", "{nope")])  # fmt: skip
    result = CliRunner().invoke(app, ["dlq", "replay"])
    assert result.exit_code == 0, result.output
    assert "replayed 1 events; 1 are still invalid" in " ".join(result.output.split())
    remaining = dlq.read(client)
    assert [e.rejection.raw for e in remaining] == ["{nope"]
    assert (
        count(fresh, settings, "MATCH (a:Account {id: 'a-000001'}) RETURN a.email")
        == "liwei@gmail.com"
    )
    listing = CliRunner().invoke(app, ["dlq", "list"])
    assert "1 entries" in listing.output


def test_http_ingest(fresh: Driver, settings: Settings) -> None:
    url = f"{settings.api_url}/v1/events"
    lines = EXAMPLES.read_text().splitlines()
    assert httpx.post(url, content="\n".join(lines)).status_code == 401
    assert (
        httpx.post(url, content="x", headers={"authorization": "Bearer wrong"}).status_code == 401
    )
    from backend.auth.roles import Role
    from backend.auth.tokens import create_token

    _, token = create_token(fresh, settings.NEO4J_DATABASE, "ingest-test", Role.INGEST)
    _, analyst = create_token(fresh, settings.NEO4J_DATABASE, "analyst-test", Role.ANALYST)
    wrong_role = {"authorization": f"Bearer {analyst}"}
    assert httpx.post(url, content=lines[0], headers=wrong_role).status_code == 403
    auth = {"authorization": f"Bearer {token}"}

    body = "\n".join([lines[0], '{"type":"session"}', lines[1]])
    response = httpx.post(
        url, content=body, headers={**auth, "content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202
    payload = response.json()
    assert (payload["accepted"], payload["rejected"], payload["not_kept"]) == (2, 1, 0)
    assert payload["errors"][0]["location"] == "line 2"
    assert len(payload["batches"]) == 1

    array = [json.loads(line) for line in lines[2:]] + [{"type": "usage", "event_id": 5}]
    response = httpx.post(url, json=array, headers=auth)
    assert response.json()["accepted"] == 3 and response.json()["rejected"] == 1
    assert response.json()["errors"][0]["location"] == "index 3"

    from celery.result import AsyncResult

    for task_id in payload["batches"] + response.json()["batches"]:
        AsyncResult(task_id).get(timeout=60)
    # The batches are in the journal; the beat-driven flusher puts them in the graph.
    deadline = time.monotonic() + 30
    query = "OPTIONAL MATCH (a:Account {id: 'a-000001'}) RETURN a.exchanges"
    while count(fresh, settings, query) != 1:
        assert time.monotonic() < deadline, "the journal was not flushed"
        time.sleep(0.2)

    many = b"x\n" * settings.INGEST_MAX_EVENTS_PER_REQUEST + b"x"
    response = httpx.post(url, content=many, headers=auth, timeout=60)
    assert response.status_code == 413 and "split the body" in response.text
    too_big = b"x" * (settings.INGEST_MAX_BODY_BYTES + 1)
    assert httpx.post(url, content=too_big, headers=auth, timeout=60).status_code == 413
    assert (
        httpx.post(
            url, content="{}", headers={**auth, "content-type": "application/json"}
        ).status_code
        == 400
    )


def test_http_ingest_pushes_back_while_the_journal_is_full(
    fresh: Driver, settings: Settings
) -> None:
    from backend.auth.roles import Role
    from backend.auth.tokens import create_token
    from backend.ingest.journal import JOURNAL

    _, token = create_token(fresh, settings.NEO4J_DATABASE, "ingest-full", Role.INGEST)
    auth = {"authorization": f"Bearer {token}"}
    url = f"{settings.api_url}/v1/events"
    line = EXAMPLES.read_text().splitlines()[0]
    client = redis.Redis.from_url(settings.REDIS_URL)
    with holding_flush_lock(settings):  # nothing drains the journal meanwhile
        for _ in range(settings.INGEST_MAX_JOURNAL_BACKLOG):
            client.xadd(JOURNAL, {"batch": "filler", "events": 0, "fold": "{}", "raw": b""})
        full = httpx.post(url, content=line, headers=auth)
        client.delete(JOURNAL)
    assert full.status_code == 503 and full.headers["retry-after"] == "5"
    assert "journal is full" in full.json()["detail"]
    assert httpx.post(url, content=line, headers=auth).status_code == 202


def test_worker_side_rejections_are_kept_once_across_retries(
    fresh: Driver, settings: Settings
) -> None:
    """Items the producer let through but the worker rejects (e.g. the contract changed)."""
    from backend.ingest.tasks import apply_batch

    good = EXAMPLES.read_text().splitlines()[1]
    client = redis.Redis.from_url(settings.REDIS_URL)
    first = apply_batch.apply(args=[[good, "{broken"], "test"], task_id="retry-me").get()
    again = apply_batch.apply(args=[[good, "{broken"], "test"], task_id="retry-me").get()
    assert (first["applied"], first["rejected"]) == (1, 1)
    # The same batch again owns the same events and finds its journal entry: appended once.
    assert again["applied"] == 1 and again["journal_id"] == first["journal_id"]
    assert [e.rejection.raw for e in dlq.read(client)] == ["{broken"]
    client.delete("heracles:dlq:batch:retry-me")


def test_identifier_of_only_whitespace_never_costs_the_batch(
    fresh: Driver, settings: Settings, tmp_path: Path
) -> None:
    """It used to pass edge validation, then fail the worker's fold after the batch's ids were
    claimed: the good events beside it never reached the graph and nothing reached the DLQ."""
    good = EXAMPLES.read_text().splitlines()
    blank_device = good[2].replace('"device_id":"d-9f2c1e"', '"device_id":"   "')
    blank_client = good[4].replace('"client_fingerprint":"cf-ab12"', '"client_fingerprint":" "')
    blank_client = blank_client.replace('"ev-4"', '"ev-4b"')
    path = write_file(tmp_path / "blank.jsonl", [*good, blank_device.replace('"ev-2"', '"ev-2b"'),
                                                  blank_client])  # fmt: skip
    report = ingest(settings, path)
    assert report.stats.applied == len(good) and report.stats.rejected == 2
    fields = sorted(e.rejection.field for e in dlq.read(redis.Redis.from_url(settings.REDIS_URL)))
    assert fields == ["client_fingerprint", "device_id"]
    assert count(fresh, settings, "MATCH (a:Account) RETURN a.exchanges") == 1
    assert count(fresh, settings, "MATCH (:Account)-[:USED_DEVICE]->(d) RETURN d.key") == "d-9f2c1e"


def test_edge_rejections_are_kept_within_the_dead_letter_budget(
    fresh: Driver, settings: Settings
) -> None:
    """Past INGEST_DLQ_MAX_BYTES the edge's rejections are reported and counted, not stored;
    the good events beside them still go through, and what workers dead-letter is kept."""
    from backend.events.validation import Rejection
    from backend.ingest.producer import Producer

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(dlq.DLQ_STREAM)
    dlq.push(client, [Rejection("test", "line 1", "", "seed the stream", "x")])
    budget = int(client.memory_usage(dlq.DLQ_STREAM, samples=5) or 0) + 20 * 1024
    sent: list[list[str]] = []
    producer = Producer(
        client, 100, 8, enqueue=lambda events, source: sent.append(events),  # type: ignore[arg-type,return-value]
        dlq_max_bytes=budget,
    )  # fmt: skip
    good = EXAMPLES.read_text().splitlines()[1]
    for i in range(200):
        producer.add("{garbage " + "g" * 1000 + str(i), "test", f"line {i}")
    producer.add(good, "test", "line 200")
    producer._flush_rejections()
    stats = producer.stats
    assert stats.rejected == 200 and stats.accepted == 1 and producer._batch == [good]
    kept = dlq.size(client) - 1
    assert 0 < kept < 200 and stats.not_kept == 200 - kept
    # Worker-side dead letters ignore the budget: those events passed the edge.
    assert dlq.push(client, [Rejection("journal", "batch b", "", "refused", "y" * 50_000)]) == 1
    client.delete(dlq.DLQ_STREAM)
