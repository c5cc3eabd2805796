"""`heracles replay` on the real stack: a drawn population (with a regrowth) fed in event-time
order through Celery, a refresh on the worker after each window, an analyst confirming what
is flagged; what it reports agrees with what ban tooling receives at the end."""

import gzip
import json
from datetime import datetime
from pathlib import Path

import numpy as np
from neo4j import Driver
from typer.testing import CliRunner

from backend.bans.repository import iter_candidates
from backend.cli.main import app
from backend.core.config import Settings
from backend.evaluation.labels import read_labels
from backend.evaluation.replay import HOUR, read_report
from seed.draws import draw_campaigns
from seed.generate import generate
from tests.integration.ingest_helpers import reset_state

EVERY_H = 120  # six or seven windows over the four-week population: enough to see flags move


def test_replay_reports_when_each_network_was_flagged(
    driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    campaigns = draw_campaigns(np.random.default_rng([4, 0]), 900, regrowth=True)
    generate(4_000, 11, tmp_path, 0.05, campaigns=campaigns)
    events, labels = tmp_path / "events.jsonl.gz", tmp_path / "labels.jsonl"
    runner = CliRunner()

    # A graph holding data is refused, untouched.
    reset_state(driver, settings)
    db = settings.NEO4J_DATABASE
    driver.execute_query("CREATE (:Account {id: 'already-here'})", database_=db)
    refused = runner.invoke(app, ["replay", str(events), "--labels", str(labels)])
    assert refused.exit_code == 3 and "empty graph" in refused.output
    count, _, _ = driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=db)
    assert count[0]["n"] == 1

    reset_state(driver, settings)
    out = tmp_path / "replay.json"
    result = runner.invoke(app, ["replay", str(events), "--labels", str(labels), "--every",
                                 str(EVERY_H), "--confirm", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert {n.campaign for n in report.networks} == {c.label for c in campaigns}
    with gzip.open(events, "rt") as handle:
        assert report.events == sum(1 for line in handle if line.strip())

    # What the report says was flagged at the end is what ban tooling receives now.
    truth = read_labels(labels)
    export = {r["account_id"] for r in iter_candidates(
        driver, db, settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE,
        settings.DETECTION_CONFIRMED_MIN_CONFIDENCE)}  # fmt: skip
    for n in report.networks:
        members = {a for a, c in truth.items() if c == n.campaign}
        assert n.flagged_share == round(len(members & export) / len(members), 4)
    assert report.genuine_flagged == sum(1 for a in export if truth.get(a, "") is None)

    # Flags land on refresh times (window ends) and before the network had taken everything.
    flagged = [n for n in report.networks if n.first_flag is not None]
    assert flagged, result.output
    for n in flagged:
        assert n.hours_to_flag is not None and n.hours_to_flag > 0
        assert n.exchanges_before_flag < 1.0
        assert datetime.fromisoformat(n.first_flag).timestamp() % (EVERY_H * HOUR) == 0

    # The analyst's confirmations went through the review service: audited, on the feed.
    audits, _, _ = driver.execute_query(
        "MATCH (e:AuditEntry {actor: 'replay-analyst'}) RETURN count(e) AS n", database_=db
    )
    verdicts, _, _ = driver.execute_query(
        "MATCH (e:ClusterEvent {type: 'verdict_set'}) RETURN count(e) AS n", database_=db
    )
    assert audits[0]["n"] >= 1 and verdicts[0]["n"] == audits[0]["n"]
    assert json.loads(out.read_text())["worst_share"] == report.worst_share
