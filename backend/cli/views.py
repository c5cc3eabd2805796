"""What the CLI draws in the terminal (Rich): the domains report through plain calls and
values, and only `backend/cli` and `backend/api` talk to a terminal or HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from backend.evaluation.metrics import Evaluation
from backend.evaluation.replay import NetworkTimeline, ReplayReport
from backend.events.validation import Rejection
from backend.ingest.producer import ProducerStats

MAX_PRINTED_REJECTIONS = 20


class IngestProgress:
    """`heracles ingest`'s progress bar (bytes read, rate, ETA, counts) and its first
    rejections; with `bar=False` only the rejections and file errors are printed."""

    def __init__(self, console: Console, bar: bool = True) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
            console=console, disable=not bar, transient=False,
        )  # fmt: skip
        self.task: TaskID | None = None
        self.printed = 0

    @staticmethod
    def _counts(stats: ProducerStats) -> str:
        return f"{stats.accepted} accepted, {stats.rejected} rejected"

    def started(self, total_bytes: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("ingest", total=total_bytes, counts="")

    def advanced(self, done_bytes: int, stats: ProducerStats) -> None:
        assert self.task is not None
        self.progress.update(self.task, completed=done_bytes, counts=self._counts(stats))

    def rejected(self, rejection: Rejection) -> None:
        if self.printed < MAX_PRINTED_REJECTIONS:
            # Event text is data, never markup (a "[/]" in it must print as is).
            self.progress.console.print(f"[yellow]rejected[/] {escape(rejection.describe())}")
            self.printed += 1

    def file_failed(self, path: Path, error: str) -> None:
        self.progress.console.print(
            f"[red]{escape(f'{path}: {error}')}[/] (the lines before it were ingested)"
        )

    def committing(self) -> None:
        assert self.task is not None
        self.progress.update(self.task, description="committing")

    def finished(self, stats: ProducerStats) -> None:
        if self.task is not None:
            self.progress.update(self.task, counts=self._counts(stats))
        self.progress.stop()


def print_evaluation(evaluation: Evaluation, console: Console) -> None:
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


def print_replay(report: ReplayReport, console: Console) -> None:
    table = Table(
        title=f"Early detection: {report.events:,} events in event-time order, a refresh every "
        f"{report.every_hours:g} h ({report.refreshes} refreshes)"
    )
    for column in ("network", "accounts", "exchanges", "first signup", "hours to first flag",
                   "flagged at the end", "exchanges before its first flag",
                   "before each account's own flag",
                   "flagged at the refresh after its first exchange",
                   "of those acting after the original's first flag"):  # fmt: skip
        table.add_column(column, justify="left" if column == "network" else "right")
    for n in report.networks:
        table.add_row(
            n.campaign, f"{n.accounts:,}", f"{n.exchanges:,}", n.first_signup[:16],
            "never" if n.hours_to_flag is None else f"{n.hours_to_flag:,.1f}",
            f"{n.flagged_share:.3f}", f"{n.exchanges_before_flag:.3f}",
            f"{n.exchanges_unflagged:.3f}", f"{n.flagged_promptly:.3f}", _after_ban(n),
        )  # fmt: skip
    console.print(table)
    console.print(
        f"worst network: {report.worst_share:.3f} of its exchanges made before its first flag; "
        f"{report.genuine_flagged:,} genuine accounts flagged at the last refresh, "
        f"{report.genuine_ever_flagged:,} at any refresh"
    )


def _after_ban(n: NetworkTimeline) -> str:
    if n.accounts_after_ban is None:
        return ""
    if n.flagged_promptly_after_ban is None:
        return "none acted after"
    return f"{n.flagged_promptly_after_ban:.3f} of {n.accounts_after_ban:,}"


class ReplayProgress:
    """One line per window (the windows are few: a month at six hours is 112)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._line = ""

    def window(self, index: int, total: int, until: float, events: int) -> None:
        at = datetime.fromtimestamp(until, tz=UTC).strftime("%Y-%m-%d %H:%M")
        self._line = f"[{index + 1}/{total}] until {at}: {events:,} events"

    def refreshed(self, index: int, flagged: int, seconds: float) -> None:
        self.console.print(f"{self._line}, {flagged:,} accounts flagged (refresh {seconds:.1f} s)")
