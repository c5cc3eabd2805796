"""`heracles refresh|seed|eval`: detection, synthetic populations, scoring against labels."""

from __future__ import annotations

from pathlib import Path

import typer

from backend.cli.common import console
from backend.core.config import get_settings

app = typer.Typer()


@app.command("refresh")
def refresh_command(
    wait: bool = typer.Option(False, "--wait", help="Wait for the refresh and print its report."),
    timeout: float = typer.Option(1800.0, help="Seconds to wait with --wait."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Only what ingest touched since the last refresh."
    ),
) -> None:
    """Run a detection refresh on a worker. Without --wait it is skipped if one is already
    running; with --wait, a running one (a scheduled refresh) is waited for, then ours runs."""
    import time

    from backend.detection.tasks import refresh_task

    if not wait:
        console.print(f"refresh queued as task {refresh_task.delay(incremental=incremental).id}")
        return
    deadline = time.monotonic() + timeout
    while True:
        report = refresh_task.delay(incremental=incremental).get(timeout=timeout)
        if report.get("status") == "done" or time.monotonic() > deadline:
            break
        console.print(f"[yellow]{report.get('reason', 'skipped')}[/]: waiting for it")
        time.sleep(2)
    if report.get("status") != "done":
        console.print(f"[yellow]refresh {report.get('status')}[/]: {report.get('reason', '')}")
        raise typer.Exit(1)
    if report["scope"] in ("none", "deferred"):
        console.print(
            "refresh: nothing touched since the last refresh" if report["scope"] == "none"
            else f"refresh deferred: the region would ban {report['bystanders']:,} accounts "
            "nothing touched from clusters that were not flagged; the scheduled full refresh "
            "judges them" if report.get("bystanders")
            else f"refresh deferred: {report['touched']:,} accounts touched reach more than "
            "DETECTION_INCREMENTAL_MAX_SHARE of the graph; the scheduled full refresh takes them"
        )  # fmt: skip
        return
    region = f" (region of {report['region']:,})" if report["scope"] == "region" else ""
    console.print(
        f"refresh {report['run_id']}{region}: {report['accounts']:,} accounts, "
        f"{report['linked_accounts']:,} linked by {report['edges']:,} weighted edges, "
        f"{report['clusters']:,} clusters ({report['flagged_clusters']} at or above the flag "
        f"threshold), {report['members']:,} memberships"
    )
    console.print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(report["events"].items())))
    console.print("seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()))
    if report.get("source") == "kept":
        console.print(
            f"graph: the last refresh's, with the links of the {report['touched']:,} accounts "
            "touched since read again"
        )
    elif report.get("source") == "neo4j":
        console.print("graph: read from Neo4j")


@app.command("seed")
def seed_command(
    out: Path = typer.Option(Path(".local/seed/small"), help="Directory for events + labels."),
    preset: str | None = typer.Option(None, help="small | medium | full (sets the defaults)."),
    accounts: int | None = typer.Option(None, help="Total accounts, genuine + fake."),
    seed: int = typer.Option(1, help="Same seed, same bytes."),
    usage_scale: float | None = typer.Option(None, help="Scales exchanges per account."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Generate a population with planted fake networks: events.jsonl.gz + labels.jsonl."""
    from rich.progress import Progress

    from seed.generate import generate
    from seed.scenarios import PRESETS

    if preset is not None and preset not in PRESETS:
        console.print(f"[red]unknown preset {preset!r}[/]; choose one of {', '.join(PRESETS)}")
        raise typer.Exit(2)
    base = PRESETS[preset or "small"]
    total = accounts or base.accounts
    scale = usage_scale if usage_scale is not None else base.usage_scale
    with Progress(console=console, disable=not progress) as bar:
        task = bar.add_task("generating accounts", total=total)
        try:
            result = generate(total, seed, out, scale, lambda n: bar.advance(task, n))
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from exc
    fakes = sum(result.campaigns.values())
    console.print(
        f"{result.accounts:,} accounts ({result.genuine:,} genuine, {fakes:,} fake in "
        f"{len(result.campaigns)} networks), {result.events:,} events "
        f"(+{result.redelivered:,} redelivered) -> {out}/events.jsonl.gz, {out}/labels.jsonl"
    )


@app.command("eval")
def evaluate_command(
    labels: Path = typer.Option(..., exists=True, dir_okay=False, help="labels.jsonl"),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON."),
    plot: Path | None = typer.Option(None, help="Precision-recall PNG (default: beside --json)."),
    replay_report: Path | None = typer.Option(
        None,
        "--replay",
        exists=True,
        dir_okay=False,
        help="Also show the early-detection figures a `heracles replay --json` wrote.",
    ),
) -> None:
    """Score the live graph's clusters against ground-truth labels, account by account."""
    from backend.cli.views import print_evaluation, print_replay
    from backend.evaluation.labels import LabelError, read_labels
    from backend.evaluation.metrics import evaluate
    from backend.evaluation.replay import read_report
    from backend.evaluation.report import write_json, write_plot
    from backend.evaluation.repository import read_memberships
    from backend.graph.driver import create_driver

    settings = get_settings()
    try:
        truth = read_labels(labels)
    except LabelError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    with create_driver(settings) as driver:
        memberships = read_memberships(driver, settings.NEO4J_DATABASE)
    result = evaluate(
        truth, memberships, settings.DETECTION_FLAG_THRESHOLD, settings.DETECTION_MIN_CONFIDENCE
    )
    print_evaluation(result, console)
    if replay_report is not None:
        print_replay(read_report(replay_report), console)
    if json_out is not None:
        write_json(result, json_out)
        console.print(f"wrote {json_out}")
    plot = plot or (json_out.with_suffix(".png") if json_out is not None else None)
    if plot is not None:
        write_plot(result, plot)
        console.print(f"wrote {plot}")


@app.command("replay")
def replay_command(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help=".jsonl or .jsonl.gz"
    ),
    labels: Path = typer.Option(..., exists=True, dir_okay=False, help="labels.jsonl"),
    every: float = typer.Option(6.0, min=0.25, help="Simulated hours between refreshes."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON."),
    confirm: bool = typer.Option(
        False,
        "--confirm",
        help="Play an analyst: confirm as fraud each cluster whose ban "
        "candidates are nine in ten labelled fake (measures regrowth after a ban).",
    ),
) -> None:
    """Feed a population into an empty graph in event-time order, refreshing every N simulated
    hours, and show per network how soon it was flagged and how much it had taken by then."""
    from backend.cli.replay import run_replay

    run_replay(console, paths, labels, every, json_out, confirm)
