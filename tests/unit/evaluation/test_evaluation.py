import json
from pathlib import Path

import pytest

from backend.evaluation.labels import LabelError, read_labels
from backend.evaluation.metrics import evaluate
from backend.evaluation.report import write_json, write_plot
from backend.evaluation.repository import Membership

LABELS = {
    **{f"f{i}": "hydra-1" for i in range(10)},
    **{f"r{i}": "reasoning-op" for i in range(4)},
    **{f"g{i}": None for i in range(20)},
}


def test_no_clusters_means_zero_recall_honestly() -> None:
    result = evaluate(LABELS, [], threshold=0.5)
    assert (result.recall, result.precision, result.flagged, result.genuine_flagged) == (0, 0, 0, 0)
    assert [c.recall for c in result.campaigns] == [0.0, 0.0]
    assert all(c.best_cluster is None for c in result.campaigns)


def test_counts_precision_recall_purity() -> None:
    memberships = [
        *(Membership(f"f{i}", "c-hydra", 0.9, 0.9) for i in range(8)),  # 8 of 10 found
        Membership("g0", "c-hydra", 0.9, 0.95),  # a genuine proxy customer in the cluster...
        Membership("g1", "c-hydra", 0.9, 0.2),  # ...and one left out by its low confidence
        *(Membership(f"r{i}", "c-reason", 0.3, 1.0) for i in range(4)),  # below the threshold
        Membership("g5", "c-benign", 0.1, 1.0),
        Membership("nobody", "c-benign", 0.1, 1.0),
    ]
    result = evaluate(LABELS, memberships, threshold=0.5, min_confidence=0.5)
    assert result.flagged == 9 and result.genuine_flagged == 1
    assert result.precision == pytest.approx(8 / 9)
    assert result.recall == pytest.approx(8 / 14)
    assert result.f1 == pytest.approx(2 * (8 / 9) * (8 / 14) / ((8 / 9) + (8 / 14)))
    hydra = next(c for c in result.campaigns if c.campaign == "hydra-1")
    assert (hydra.recall, hydra.best_cluster, hydra.best_cluster_share) == (0.8, "c-hydra", 0.8)
    assert hydra.best_cluster_purity == pytest.approx(8 / 10)
    reasoning = next(c for c in result.campaigns if c.campaign == "reasoning-op")
    assert reasoning.recall == 0.0 and reasoning.best_cluster_purity == 1.0
    assert result.unlabelled_members == 1
    precision_at_025 = next(p for t, p, _ in result.curve if t == pytest.approx(0.25))
    assert precision_at_025 == pytest.approx(12 / 13)  # 8 + 4 fake and g0 (g1: low confidence)
    # The highest risk is 0.9: above it nothing is flagged and no point is drawn (it used to be
    # (P, R) = (0, 0), a segment from the origin that no threshold gives).
    assert max(t for t, _, _ in result.curve) == pytest.approx(0.9)
    assert all(p > 0 for _, p, _ in result.curve)


def test_labels_file_errors_name_the_line(tmp_path: Path) -> None:
    good = tmp_path / "labels.jsonl"
    good.write_text(
        '{"account_id": "a", "campaign": "x"}\n\n{"account_id": "b", "campaign": null}\n'
    )
    assert read_labels(good) == {"a": "x", "b": None}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"account_id": "a", "campaign": "x"}\n{"account_id": 7}\n')
    with pytest.raises(LabelError, match=r"bad\.jsonl:line 2"):
        read_labels(bad)


def test_json_and_png_outputs(tmp_path: Path) -> None:
    result = evaluate(LABELS, [Membership("f0", "c", 0.8, 1.0)], threshold=0.5)
    write_json(result, tmp_path / "e.json")
    write_plot(result, tmp_path / "e.png")
    assert json.loads((tmp_path / "e.json").read_text())["recall"] == pytest.approx(1 / 14)
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
