"""Ground-truth labels, one `{"account_id", "campaign" | null}` per line; never in the graph."""

from __future__ import annotations

import json
from pathlib import Path

from backend.events.reader import iter_lines, open_stream


class LabelError(ValueError):
    """A labels line that is not `{"account_id": str, "campaign": str | null}`."""


def read_labels(path: Path) -> dict[str, str | None]:
    labels: dict[str, str | None] = {}
    stream, _ = open_stream(path)
    with stream:
        for line in iter_lines(stream):
            where = f"{path}:line {line.number}"
            if line.text is None:
                raise LabelError(f"{where}: {line.error}")
            try:
                value = json.loads(line.text)
            except ValueError as exc:
                raise LabelError(f"{where}: not valid JSON ({exc})") from exc
            account = value.get("account_id") if isinstance(value, dict) else None
            campaign = value.get("campaign") if isinstance(value, dict) else None
            if not isinstance(account, str) or not (campaign is None or isinstance(campaign, str)):
                raise LabelError(
                    f"{where}: expected {{'account_id': str, 'campaign': str or null}}"
                )
            labels[account] = campaign
    return labels
