"""Early detection's figures and the replay's windows, on hand-built timelines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backend.evaluation.replay import (
    HOUR,
    Exchanges,
    early_detection,
    read_report,
    read_timeline,
    replay,
    windows,
    write_report,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of six hours


def test_windows_are_aligned_and_in_time_order() -> None:
    times = np.array([T0 + 7 * HOUR, T0 + 1, T0 + 5 * HOUR, -np.inf, T0 + 13 * HOUR])
    cut = windows(times, 6 * HOUR)
    assert [end for end, _ in cut] == [T0 + 6 * HOUR, T0 + 12 * HOUR, T0 + 18 * HOUR]
    # The unreadable time goes first (ingest rejects it), then the rest in time order.
    assert [rows.tolist() for _, rows in cut] == [[3, 1, 2], [0], [4]]


def _exchanges() -> Exchanges:
    # Accounts f1, f2 (network "n") and g (genuine); f1 exchanges at hours 1, 2, 10, 20;
    # f2 at 11, 21; g at 3.
    account = np.array([0, 0, 0, 0, 1, 1, 2])
    at = T0 + HOUR * np.array([1, 2, 10, 20, 11, 21, 3], dtype=float)
    signup = T0 + HOUR * np.array([0.5, 9.0, 0.0])
    return Exchanges(account, at, ["f1", "f2", "g"], signup)


def test_early_detection_counts_what_was_taken_before_each_flag() -> None:
    labels: dict[str, str | None] = {"f1": "n", "f2": "n", "g": None}
    # The network is first flagged at the refresh of hour 12 (f1); f2 only at hour 24.
    flagged_at = {"f1": T0 + 12 * HOUR, "f2": T0 + 24 * HOUR}
    report = early_detection(labels, _exchanges(), flagged_at, {"f1", "f2"}, 6.0, 4, 10)
    (n,) = report.networks
    assert (n.accounts, n.exchanges) == (2, 6)
    assert n.hours_to_flag == 11.5  # from f1's signup at 0:30 to the refresh at 12:00
    assert n.exchanges_before_flag == round(4 / 6, 4)  # hours 1, 2, 10, 11
    assert n.exchanges_unflagged == round(5 / 6, 4)  # f1's 1, 2, 10 and f2's 11, 21
    assert n.flagged_share == 1.0 and report.genuine_flagged == 0
    assert report.worst_share == n.exchanges_before_flag
    # f1's first exchange (hour 1) is followed by the refresh of hour 6, not 12's; f2's (hour
    # 11) by hour 12's, but it was flagged at 24: neither was flagged promptly.
    assert n.flagged_promptly == 0.0
    prompt = early_detection(labels, _exchanges(), {"f1": T0 + 6 * HOUR, "f2": T0 + 12 * HOUR},
                             {"f1", "f2"}, 6.0, 4, 10)  # fmt: skip
    assert prompt.networks[0].flagged_promptly == 1.0


def test_regrowth_after_the_ban_is_measured_apart() -> None:
    # Network "n" (f1) is first flagged at hour 12. Its regrowth: r1 acts at hour 10, before
    # that flag (early detection's), r2 at hour 14 and r3 at hour 20, after it.
    account = np.array([0, 1, 2, 3])
    at = T0 + HOUR * np.array([1, 10, 14, 20], dtype=float)
    signup = T0 + HOUR * np.array([0.0, 9.0, 13.0, 19.0])
    exchanges = Exchanges(account, at, ["f1", "r1", "r2", "r3"], signup)
    labels: dict[str, str | None] = {"f1": "n", "r1": "n-regrowth", "r2": "n-regrowth",
                                     "r3": "n-regrowth"}  # fmt: skip
    # r1 flagged at 18 (late), r2 at 18 (prompt: the refresh after hour 14), r3 at 30 (late).
    flagged_at = {"f1": T0 + 12 * HOUR, "r1": T0 + 18 * HOUR, "r2": T0 + 18 * HOUR,
                  "r3": T0 + 30 * HOUR}  # fmt: skip
    report = early_detection(labels, exchanges, flagged_at, set(flagged_at), 6.0, 6, 10)
    original, regrowth = report.networks
    assert original.accounts_after_ban is None and original.flagged_promptly_after_ban is None
    assert regrowth.flagged_promptly == round(1 / 3, 4)
    assert regrowth.accounts_after_ban == 2
    assert regrowth.flagged_promptly_after_ban == 0.5
    # An original never flagged: nobody acted after its ban.
    unflagged = {a: t for a, t in flagged_at.items() if a != "f1"}
    _, regrowth = early_detection(labels, exchanges, unflagged, set(unflagged), 6.0, 6, 10).networks
    assert regrowth.accounts_after_ban == 0 and regrowth.flagged_promptly_after_ban is None


def test_a_network_never_flagged_took_everything() -> None:
    labels: dict[str, str | None] = {"f1": "n", "f2": "n", "g": None}
    report = early_detection(labels, _exchanges(), {"g": T0}, {"g"}, 6.0, 4, 10)
    (n,) = report.networks
    assert n.first_flag is None and n.hours_to_flag is None
    assert n.exchanges_before_flag == 1.0 and n.exchanges_unflagged == 1.0
    assert n.flagged_share == 0.0 and report.genuine_flagged == 1
    assert report.genuine_ever_flagged == 1
    # Flagged at one refresh and cleared by the last: not at the end, but it was banned.
    cleared = early_detection(labels, _exchanges(), {"g": T0}, set(), 6.0, 4, 10)
    assert cleared.genuine_flagged == 0 and cleared.genuine_ever_flagged == 1


def _event(kind: str, account: str, hour: float, n: int) -> dict[str, object]:
    at = np.datetime64(int(T0 + hour * HOUR), "s").astype(str) + "Z"
    return {"type": kind, "event_id": f"e{n}", "account_id": account, "occurred_at": at}


def test_replay_applies_windows_in_order_and_records_first_flags(tmp_path: Path) -> None:
    events = [_event("usage", "f1", 7, 1), _event("signup", "f1", 1, 2),
              _event("usage", "f1", 2, 3), _event("signup", "g", 8, 4)]  # fmt: skip
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events) + "not json\n")
    applied: list[list[str]] = []

    def apply(path: Path) -> None:
        applied.append([json.loads(line).get("event_id", "?") if line.startswith("{") else "bad"
                        for line in path.read_text().splitlines()])  # fmt: skip

    def refresh() -> set[str]:
        # The network is flagged once its second window is in.
        return {"f1"} if len(applied) > 1 else set()

    exchanges, flagged_at, refreshes, count = replay([source], 6.0, apply, refresh, tmp_path)
    assert applied == [["bad", "e2", "e3"], ["e1", "e4"]]
    assert (refreshes, count) == (2, 5)
    assert flagged_at == {"f1": T0 + 12 * HOUR}
    assert exchanges.signup.tolist() == [T0 + HOUR, T0 + 8 * HOUR]
    assert read_timeline([source])[1].size == 5


def test_report_round_trips(tmp_path: Path) -> None:
    labels: dict[str, str | None] = {"f1": "n", "f2": "n", "g": None}
    report = early_detection(labels, _exchanges(), {"f1": T0 + 12 * HOUR}, {"f1"}, 6.0, 4, 10)
    write_report(report, tmp_path / "r.json")
    assert read_report(tmp_path / "r.json") == report
