"""The evaluation as a terminal table, a JSON document and a precision-recall plot (PNG)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from backend.evaluation.metrics import Evaluation


def print_report(evaluation: Evaluation, console: Console) -> None:
    e = evaluation
    summary = Table(title=f"Detection vs labels (flag threshold {e.threshold:.2f})")
    for column in ("accounts", "fake", "genuine", "flagged", "precision", "recall", "F1",
                   "genuine flagged"):  # fmt: skip
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{e.labelled:,}", f"{e.fake:,}", f"{e.genuine:,}", f"{e.flagged:,}",
        f"{e.precision:.3f}", f"{e.recall:.3f}", f"{e.f1:.3f}", f"{e.genuine_flagged:,}",
    )  # fmt: skip
    console.print(summary)
    campaigns = Table(title="Per campaign")
    for column in ("campaign", "accounts", "recall", "best cluster", "share in it", "its purity"):
        campaigns.add_column(column, justify="left" if column == "campaign" else "right")
    for c in e.campaigns:
        campaigns.add_row(
            c.campaign, f"{c.accounts:,}", f"{c.recall:.3f}", c.best_cluster or "—",
            f"{c.best_cluster_share:.3f}", f"{c.best_cluster_purity:.3f}",
        )  # fmt: skip
    console.print(campaigns)
    if e.unlabelled_members:
        console.print(f"{e.unlabelled_members:,} cluster members have no label (not counted)")


def write_json(evaluation: Evaluation, path: Path) -> None:
    path.write_text(json.dumps(asdict(evaluation), indent=2) + "\n")


def write_plot(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = [t for t, _, _ in evaluation.curve]
    precision = [p for _, p, _ in evaluation.curve]
    recall = [r for _, _, r in evaluation.curve]
    fig, (pr, by_t) = plt.subplots(1, 2, figsize=(10, 4))
    pr.plot(recall, precision, marker=".", linewidth=1)
    pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall over flag thresholds")  # fmt: skip
    by_t.plot(thresholds, precision, label="precision")
    by_t.plot(thresholds, recall, label="recall")
    by_t.axvline(evaluation.threshold, color="grey", linestyle="--", label="flag threshold")
    by_t.set(xlabel="cluster risk threshold", ylim=(0, 1.02), title="by threshold")
    by_t.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
