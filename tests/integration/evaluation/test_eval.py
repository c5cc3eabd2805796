"""`heracles eval` reads clusters and memberships from the live graph (detection's write-back)."""

import json
from pathlib import Path

from neo4j import Driver
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.config import Settings


def test_eval_against_the_live_graph(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps({"account_id": a, "campaign": c})
            for a, c in [
                ("x1", "hydra-7"),
                ("x2", "hydra-7"),
                ("x3", "hydra-7"),
                ("g1", None),
                ("g2", None),
            ]
        )
    )
    runner = CliRunner()
    empty = runner.invoke(
        app, ["eval", "--labels", str(labels), "--json", str(tmp_path / "e0.json")]
    )
    assert empty.exit_code == 0, empty.output
    assert json.loads((tmp_path / "e0.json").read_text())["recall"] == 0.0

    clean_graph.execute_query(
        "CREATE (c:Cluster {id: 'cl-1', risk: 0.93, status: 'active', gen: 1}) "
        "WITH c UNWIND [['x1', 0.9], ['x2', 0.8], ['g1', 0.1]] AS m "
        "CREATE (:Account {id: m[0]})-[:MEMBER_OF {confidence: m[1], from: 1}]->(c)",
        database_=settings.NEO4J_DATABASE,
    )
    result = runner.invoke(
        app, ["eval", "--labels", str(labels), "--json", str(tmp_path / "e.json")]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["flagged"] == 2 and report["genuine_flagged"] == 0  # g1's confidence is too low
    assert report["precision"] == 1.0 and abs(report["recall"] - 2 / 3) < 1e-9
    assert report["campaigns"][0]["best_cluster"] == "cl-1"
    assert (tmp_path / "e.png").exists()
    assert "hydra-7" in result.output
