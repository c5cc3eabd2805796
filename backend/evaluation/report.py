"""The evaluation as a JSON document and a precision-recall plot (PNG); the terminal table is the
CLI's (`backend/cli/views.py`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from backend.evaluation.metrics import Evaluation


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
