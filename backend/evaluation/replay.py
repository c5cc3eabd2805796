"""Early detection, measured: a population fed in event-time order, a refresh every N simulated
hours, and for each network how soon it was flagged and how much it had already taken.

The loop (`replay`) owns time: it sorts the events, cuts them into windows, and after each
window asks its caller to apply them and refresh, then reads who is flagged. How events are
applied and how a refresh runs are the caller's (`heracles replay` sends them through Celery
like any producer and runs the refresh task on a worker), so this module has no transport.
The figures (`early_detection`) are pure numpy over the exchange table, unit-tested.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

HOUR = 3600.0
NEVER = np.inf
# A regrowth's label: its original network's, with this suffix (the labels' convention,
# `seed.draws`): what ties the operator's return to the network it was banned in.
REGROWTH_SUFFIX = "-regrowth"


@dataclass(frozen=True)
class NetworkTimeline:
    campaign: str
    accounts: int
    exchanges: int
    first_signup: str
    first_flag: str | None
    hours_to_flag: float | None  # from the network's first signup to the refresh that flagged it
    flagged_share: float  # of its accounts, flagged at the last refresh
    # Share of its exchanges made before the refresh that first flagged any of it (what ban
    # tooling acting on the network's ID would have stopped) ...
    exchanges_before_flag: float
    # ... and before each account was itself flagged (accounts never flagged count in full).
    exchanges_unflagged: float
    # Share of its accounts flagged at the first refresh after their first exchange (what
    # regrowth of a confirmed network should meet: flagged as soon as it acts).
    flagged_promptly: float = 0.0
    # Regrowth only: its accounts whose first exchange came after the refresh that first
    # flagged the original network (what the operator returned with once ban tooling had the
    # network), and the share of them flagged promptly. An account that acted before any flag
    # of the original is early detection's, not regrowth's (None: not a regrowth, or none).
    accounts_after_ban: int | None = None
    flagged_promptly_after_ban: float | None = None


@dataclass(frozen=True)
class ReplayReport:
    every_hours: float
    refreshes: int
    events: int
    genuine_flagged: int  # at the last refresh
    networks: list[NetworkTimeline] = field(default_factory=list)
    # Genuine accounts flagged at any refresh: ban tooling acts on every refresh, so one
    # flagged and later cleared was still banned for a while.
    genuine_ever_flagged: int = 0

    @property
    def worst_share(self) -> float:
        """The largest share of a network's exchanges made before it was flagged."""
        return max((n.exchanges_before_flag for n in self.networks), default=0.0)


@dataclass(frozen=True)
class Exchanges:
    """Who did what when, from the events: one row per exchange, first signup per account."""

    account: npt.NDArray[np.int64]  # index into `accounts`
    at: npt.NDArray[np.float64]  # epoch seconds
    accounts: list[str]
    signup: npt.NDArray[np.float64]  # per account; first event when it has no signup

    def first_exchange(self) -> npt.NDArray[np.float64]:
        """Per account (inf: none)."""
        first = np.full(len(self.accounts), np.inf)
        np.minimum.at(first, self.account, self.at)
        return first


class ReplayObserver(Protocol):
    def window(self, index: int, total: int, until: float, events: int) -> None: ...
    def refreshed(self, index: int, flagged: int, seconds: float) -> None: ...


class _Silent:
    def window(self, index: int, total: int, until: float, events: int) -> None:
        pass

    def refreshed(self, index: int, flagged: int, seconds: float) -> None:
        pass


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="seconds")


def _lines(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line if line.endswith("\n") else line + "\n"


def _time(event: Any) -> float:
    """Event time; what cannot be read sorts first and is rejected by ingest as usual."""
    try:
        return datetime.fromisoformat(str(event["occurred_at"])).timestamp()
    except (KeyError, TypeError, ValueError):
        return -np.inf


def read_timeline(paths: Iterable[Path]) -> tuple[list[str], npt.NDArray[np.float64], Exchanges]:
    """Every line with its event time, and the exchange table. Holds the lines in memory: a
    replay is an evaluation of a population, not the production path (which is unordered)."""
    lines: list[str] = []
    times: list[float] = []
    index: dict[str, int] = {}
    ex_account: list[int] = []
    ex_at: list[float] = []
    signups: dict[int, float] = {}
    first: dict[int, float] = {}
    for line in _lines(paths):
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        at = _time(event) if isinstance(event, dict) else -np.inf
        lines.append(line)
        times.append(at)
        if not isinstance(event, dict) or not isinstance(event.get("account_id"), str):
            continue
        i = index.setdefault(event["account_id"], len(index))
        first[i] = min(first.get(i, np.inf), at)
        if event.get("type") == "usage":
            ex_account.append(i)
            ex_at.append(at)
        elif event.get("type") == "signup":
            signups[i] = min(signups.get(i, np.inf), at)
    signup = np.array([signups.get(i, first[i]) for i in range(len(index))], dtype=np.float64)
    exchanges = Exchanges(np.asarray(ex_account, np.int64), np.asarray(ex_at, np.float64),
                          list(index), signup)  # fmt: skip
    return lines, np.asarray(times, np.float64), exchanges


def windows(times: npt.NDArray[np.float64], every_s: float) -> list[tuple[float, np.ndarray]]:
    """(end of window, indices of its lines in time order) for each window holding events;
    windows are aligned to multiples of `every_s` from the epoch, so two replays agree."""
    order = np.argsort(times, kind="stable")
    finite = times[np.isfinite(times)]
    if finite.size == 0:
        return [(0.0, order)] if order.size else []
    slot = np.floor(np.where(np.isfinite(times), times, finite.min()) / every_s)[order]
    cuts = np.flatnonzero(np.diff(slot)) + 1
    return [((float(slot[chunk[0]]) + 1) * every_s, order[chunk])
            for chunk in np.split(np.arange(order.size), cuts)]  # fmt: skip


def replay(
    paths: Iterable[Path],
    every_hours: float,
    apply: Callable[[Path], None],
    refresh: Callable[[], set[str]],
    work_dir: Path | None = None,
    observer: ReplayObserver | None = None,
) -> tuple[Exchanges, dict[str, float], int, int]:
    """Feeds the events window by window (`apply` returns once the graph holds them), refreshes
    after each (`refresh` returns the accounts ban tooling receives after it) and records the
    simulated time each account was first flagged. Returns the exchanges, first-flag times,
    refreshes, events."""
    seen = observer or _Silent()
    lines, times, exchanges = read_timeline(paths)
    cut = windows(times, every_hours * HOUR)
    flagged_at: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as scratch:
        for k, (until, rows) in enumerate(cut):
            seen.window(k, len(cut), until, int(rows.size))
            path = Path(scratch) / f"window-{k:05d}.jsonl"
            path.write_text("".join(lines[i] for i in rows.tolist()), encoding="utf-8")
            apply(path)
            path.unlink()
            started = time.perf_counter()
            flagged = refresh()
            for account in flagged:
                flagged_at.setdefault(account, until)
            seen.refreshed(k, len(flagged), time.perf_counter() - started)
    return exchanges, flagged_at, len(cut), len(lines)


def early_detection(
    labels: dict[str, str | None],
    exchanges: Exchanges,
    flagged_at: dict[str, float],
    final: set[str],
    every_hours: float,
    refreshes: int,
    events: int,
) -> ReplayReport:
    """Per network: hours from its first signup to its first flag, the share of its accounts
    flagged at the end, and the share of its exchanges made before it (and each account) was
    flagged. `final` is what the last refresh flags."""
    index = {a: i for i, a in enumerate(exchanges.accounts)}
    n = len(exchanges.accounts)
    campaign_of = np.full(n, -1, np.int64)
    names = sorted({c for c in labels.values() if c is not None})
    code = {c: k for k, c in enumerate(names)}
    for account, campaign in labels.items():
        if campaign is not None and account in index:
            campaign_of[index[account]] = code[campaign]
    own_flag = np.full(n, NEVER)
    for account, at in flagged_at.items():
        if account in index:
            own_flag[index[account]] = at
    # The refresh after an account's first exchange ends the window holding it (`windows`).
    every_s = every_hours * HOUR
    first_ex = exchanges.first_exchange()
    first_refresh = (np.floor(first_ex / every_s) + 1) * every_s
    prompt = own_flag <= first_refresh
    first_flags = {name: _first(own_flag, campaign_of == k) for k, name in enumerate(names)}
    networks = []
    ex_campaign = campaign_of[exchanges.account] if exchanges.account.size else exchanges.account
    for k, name in enumerate(names):
        members = campaign_of == k
        accounts = [a for a, c in labels.items() if c == name]
        first_flag = first_flags[name]
        first_signup = float(exchanges.signup[members].min()) if members.any() else NEVER
        mine = ex_campaign == k
        at = exchanges.at[mine]
        total = int(at.size)
        before = int(np.count_nonzero(at < first_flag))
        unflagged = int(np.count_nonzero(at < own_flag[exchanges.account[mine]]))
        flagged = sum(a in final for a in accounts)
        networks.append(NetworkTimeline(
            campaign=name, accounts=len(accounts), exchanges=total,
            first_signup=_iso(first_signup) if np.isfinite(first_signup) else "",
            first_flag=_iso(first_flag) if np.isfinite(first_flag) else None,
            hours_to_flag=round((first_flag - first_signup) / HOUR, 1)
            if np.isfinite(first_flag) and np.isfinite(first_signup) else None,
            flagged_share=round(flagged / len(accounts), 4) if accounts else 0.0,
            exchanges_before_flag=round(before / total, 4) if total else 0.0,
            exchanges_unflagged=round(unflagged / total, 4) if total else 0.0,
            flagged_promptly=round(float(prompt[members].mean()), 4) if members.any() else 0.0,
            **_after_ban(name, members, first_flags, first_ex, prompt),
        ))  # fmt: skip
    genuine = sum(1 for a in final if labels.get(a, "") is None)
    ever = sum(1 for a in flagged_at if labels.get(a, "") is None)
    return ReplayReport(every_hours, refreshes, events, genuine, networks, ever)


def _first(own_flag: npt.NDArray[np.float64], members: npt.NDArray[np.bool_]) -> float:
    return float(own_flag[members].min()) if members.any() else NEVER


def _after_ban(
    name: str,
    members: npt.NDArray[np.bool_],
    first_flags: dict[str, float],
    first_exchange: npt.NDArray[np.float64],
    prompt: npt.NDArray[np.bool_],
) -> dict[str, Any]:
    if not name.endswith(REGROWTH_SUFFIX):
        return {}
    banned_at = first_flags.get(name.removesuffix(REGROWTH_SUFFIX), NEVER)
    after = members & (first_exchange > banned_at) & np.isfinite(first_exchange)
    count = int(after.sum())
    share = round(float(prompt[after].mean()), 4) if count else None
    return {"accounts_after_ban": count, "flagged_promptly_after_ban": share}


def write_report(report: ReplayReport, path: Path) -> None:
    document = {"worst_share": report.worst_share, **asdict(report)}
    path.write_text(json.dumps(document, indent=2) + "\n")


def read_report(path: Path) -> ReplayReport:
    document = json.loads(path.read_text())
    document.pop("worst_share", None)
    networks = [NetworkTimeline(**n) for n in document.pop("networks")]
    return ReplayReport(**document, networks=networks)
