"""The `heracles` command line."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from backend.core.config import PROJECT_ROOT, get_settings
from devstack.neo4j_home import PrerequisiteError

if TYPE_CHECKING:
    from backend.ingest.producer import Producer

app = typer.Typer(
    help="Heracles: account-fraud graph investigation.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Graph database maintenance.", no_args_is_help=True)
schema_app = typer.Typer(
    help="Export the contracts other teams build against.", no_args_is_help=True
)
dlq_app = typer.Typer(help="The dead-letter store of rejected events.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens (stored hashed).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(schema_app, name="schema")
app.add_typer(dlq_app, name="dlq")

console = Console()
SDL_PATH = PROJECT_ROOT / "graphql" / "schema.graphql"


@app.command()
def up() -> None:
    """Start Neo4j, Redis, a Celery worker, beat and the API; wait until each is ready."""
    from devstack import lifecycle

    try:
        lifecycle.up(get_settings(), console)
    except (PrerequisiteError, RuntimeError, TimeoutError) as exc:
        console.print(f"[red]heracles up failed:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def down() -> None:
    """Stop exactly the processes `heracles up` started."""
    from devstack import lifecycle

    lifecycle.down(get_settings(), console)


@app.command()
def status(quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the exit code.")) -> None:
    """Health of each component; exits 1 unless all five are healthy."""
    from devstack import lifecycle

    statuses = lifecycle.status(get_settings())
    if not quiet:
        table = Table(title="Heracles local stack")
        for column in ("component", "state", "pid", "detail"):
            table.add_column(column)
        for item in statuses:
            state = "[green]healthy[/]" if item.healthy else "[red]down[/]"
            table.add_row(item.name, state, str(item.pid or "-"), item.detail)
        console.print(table)
    if not all(item.healthy for item in statuses):
        raise typer.Exit(1)


@app.command()
def smoke(timeout: float = typer.Option(60.0, help="Seconds to wait for the worker.")) -> None:
    """Round trip through the stack: a Celery task writes a node to Neo4j and reads it back."""
    from backend.system.tasks import smoke_roundtrip

    node_id = f"smoke-{uuid.uuid4().hex}"
    result = smoke_roundtrip.delay(node_id)
    read = result.get(timeout=timeout)
    if read != node_id:
        console.print(f"[red]smoke round trip failed:[/] wrote {node_id}, read {read!r}")
        raise typer.Exit(1)
    console.print(
        f"[green]✓[/] smoke round trip: a worker wrote and read back :SmokeCheck {node_id}"
    )


@app.command("refresh")
def refresh_command(
    wait: bool = typer.Option(False, "--wait", help="Wait for the refresh and print its report."),
    timeout: float = typer.Option(1800.0, help="Seconds to wait with --wait."),
) -> None:
    """Run a detection refresh on a worker (skipped if one is already running)."""
    from backend.detection.tasks import refresh_task

    result = refresh_task.delay()
    if not wait:
        console.print(f"refresh queued as task {result.id}")
        return
    report = result.get(timeout=timeout)
    if report.get("status") != "done":
        console.print(f"[yellow]refresh {report.get('status')}[/]: {report.get('reason', '')}")
        raise typer.Exit(1)
    console.print(
        f"refresh {report['run_id']}: {report['accounts']:,} accounts, "
        f"{report['linked_accounts']:,} linked by {report['edges']:,} weighted edges, "
        f"{report['clusters']:,} clusters ({report['flagged_clusters']} at or above the flag "
        f"threshold), {report['members']:,} memberships"
    )
    console.print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(report["events"].items())))
    console.print("seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()))


def _producer(keep_task_ids: bool = False, edge: bool = True) -> Producer:
    """`edge`: new input, whose rejections are kept only within INGEST_DLQ_MAX_BYTES (a replay
    of the dead-letter store itself keeps what fails again)."""
    import redis

    from backend.ingest.producer import Producer

    settings = get_settings()
    client = redis.Redis.from_url(settings.REDIS_URL)
    return Producer(
        client,
        settings.INGEST_BATCH_SIZE,
        settings.INGEST_MAX_INFLIGHT,
        keep_task_ids=keep_task_ids,
        max_backlog=settings.INGEST_MAX_JOURNAL_BACKLOG,
        dlq_max_bytes=settings.INGEST_DLQ_MAX_BYTES if edge else None,
    )


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help=".jsonl or .jsonl.gz"
    ),
    wait: bool = typer.Option(False, "--wait", help="Return once every batch is committed."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Validate and enqueue events (batches of INGEST_BATCH_SIZE per Celery task)."""
    from backend.cli.views import IngestProgress
    from backend.ingest.files import ingest_files

    report = ingest_files(paths, _producer(), wait=wait, observer=IngestProgress(console, progress))
    s = report.stats
    console.print(
        f"{s.accepted} events accepted in {s.batches} batches, {s.rejected} rejected "
        f"(see `heracles dlq list`), {report.seconds:.1f}s"
    )
    if s.not_kept:
        console.print(
            f"[red]{s.not_kept} rejected events were not kept[/]: the dead-letter store is over "
            "HERACLES_INGEST_DLQ_MAX_BYTES (replay or delete what it holds, then send them again)"
        )
    if wait:
        console.print(
            f"committed: {s.applied} applied, {s.duplicates} duplicates skipped; "
            f"{report.events_per_second:,.0f} events/s end to end"
        )
        if s.failed_batches:
            console.print(
                f"[red]{len(s.failed_batches)} batches failed[/]; their events are in the DLQ"
            )
    if report.file_errors or s.failed_batches:
        raise typer.Exit(1)


@app.command("backfill")
def backfill_command(
    paths: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help=".jsonl or .jsonl.gz"
    ),
    workers: int = typer.Option(0, help="Worker processes (0: one per core)."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace a graph that holds data (API tokens are kept)."
    ),
    work_dir: Path | None = typer.Option(None, help="Where the importer files go."),
    keep_files: bool = typer.Option(False, help="Keep the importer files afterwards."),
    progress: bool = typer.Option(True, help="Show progress."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Load a history into an empty graph with Neo4j's offline importer (stops Neo4j while it
    imports); afterwards `heracles ingest` of overlapping files applies only what is new."""
    from backend.cli.backfill import backfill

    backfill(console, paths, workers or None, replace, work_dir, keep_files, progress, json_out)


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
) -> None:
    """Score the live graph's clusters against ground-truth labels, account by account."""
    from backend.cli.views import print_evaluation
    from backend.evaluation.labels import LabelError, read_labels
    from backend.evaluation.metrics import evaluate
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
    if json_out is not None:
        write_json(result, json_out)
        console.print(f"wrote {json_out}")
    plot = plot or (json_out.with_suffix(".png") if json_out is not None else None)
    if plot is not None:
        write_plot(result, plot)
        console.print(f"wrote {plot}")


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(20, help="How many entries."),
    after: str = typer.Option("-", help="Start after this entry id."),
    raw: bool = typer.Option(False, help="Print each entry's raw text too."),
) -> None:
    """Rejected events, oldest first, with where they came from and why."""
    import redis

    from backend.ingest import dlq

    client = redis.Redis.from_url(get_settings().REDIS_URL)
    entries = dlq.read(client, after, limit)
    table = Table(title=f"dead-letter store: {dlq.size(client)} entries")
    for column in ("entry", "source", "where", "field", "reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        r = entry.rejection
        # Text, not str: event text is data, never Rich markup (a type of "[/]" would crash).
        table.add_row(*(Text(v) for v in (entry.entry_id, r.source, r.location, r.field,
                                           r.reason)))  # fmt: skip
    console.print(table)
    if raw:
        for entry in entries:
            console.print(f"{entry.entry_id}: {entry.rejection.raw[:2000]}", markup=False)


@dlq_app.command("replay")
def dlq_replay(
    wait: bool = typer.Option(True, help="Wait until replayed batches are committed."),
    limit: int = typer.Option(0, help="At most this many entries (0: all)."),
) -> None:
    """Re-validate every entry with the current contract; ingest the valid ones, keep the rest."""
    from backend.ingest.replay import replay_dead_letters

    producer = _producer(edge=False)
    result = replay_dead_letters(producer, wait, limit)
    console.print(
        f"replayed {result.replayed} events; {result.still_invalid} are still invalid and stay "
        "in the DLQ"
    )
    if producer.stats.failed_batches:
        raise typer.Exit(1)


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., help="Who or what uses it (shown in the audit trail)."),
    role: str = typer.Option(..., help="analyst | bantool | ingest | admin"),
) -> None:
    """Create a token. It is printed once, here; only its hash is stored."""
    from backend.auth.roles import Role
    from backend.auth.tokens import TokenError, create_token
    from backend.graph.driver import create_driver

    try:
        chosen = Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role!r}[/]: one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    settings = get_settings()
    with create_driver(settings) as driver:
        try:
            token_id, token = create_token(driver, settings.NEO4J_DATABASE, name, chosen)
        except TokenError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
    console.print(f"created {token_id} ({name}, role {chosen.value}); the token, shown only now:",
                  highlight=False, soft_wrap=True)  # fmt: skip
    typer.echo(token)


@token_app.command("list")
def token_list() -> None:
    """Every token ever created (never the secret)."""
    from backend.auth.tokens import list_tokens
    from backend.graph.driver import create_driver

    settings = get_settings()
    with create_driver(settings) as driver:
        tokens = list_tokens(driver, settings.NEO4J_DATABASE)
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "created", "revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            t.id, t.name, t.role.value, f"{t.created_at:%Y-%m-%d %H:%M}" if t.created_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )  # fmt: skip
    console.print(table)


@token_app.command("revoke")
def token_revoke(ref: str = typer.Argument(..., help="Token id or name.")) -> None:
    """Revoke a token (the API honours it within API_TOKEN_CACHE_S seconds)."""
    from backend.auth.tokens import revoke_token
    from backend.graph.driver import create_driver

    settings = get_settings()
    with create_driver(settings) as driver:
        revoked = revoke_token(driver, settings.NEO4J_DATABASE, ref)
    if not revoked:
        console.print(f"[red]no token with id or name {ref!r}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {', '.join(revoked)}")


@app.command("gql")
def gql_command(
    operation: str = typer.Argument(..., help="A named operation from graphql/operations/."),
    token: str = typer.Option(..., envvar="HERACLES_TOKEN", help="Bearer token."),
    var: list[str] = typer.Option([], "--var", help="Variable as name=JSON (or name=text)."),
) -> None:
    """Run a named operation against the API and print the JSON answer."""
    import json

    import httpx

    from backend.api.graphql.operations import named_operations

    documents = named_operations()
    if operation not in documents:
        console.print(f"[red]no operation {operation!r}[/]; one of: {', '.join(sorted(documents))}")
        raise typer.Exit(2)
    variables = {}
    for item in var:
        name, _, raw = item.partition("=")
        try:
            variables[name] = json.loads(raw)
        except ValueError:
            variables[name] = raw
    response = httpx.post(
        f"{get_settings().api_url}/graphql", headers={"authorization": f"Bearer {token}"},
        json={"query": documents[operation], "operationName": operation, "variables": variables},
        timeout=60,
    )  # fmt: skip
    typer.echo(json.dumps(response.json(), indent=2) if response.content else response.text)
    if response.status_code != 200 or "errors" in response.json():
        raise typer.Exit(1)


@app.command("export-bans")
def export_bans(
    out: Path = typer.Option(..., help="NDJSON file, one ban candidate per line."),
    min_risk: float | None = typer.Option(None, help="Default: DETECTION_FLAG_THRESHOLD."),
    min_confidence: float | None = typer.Option(None, help="Default: DETECTION_MIN_CONFIDENCE."),
) -> None:
    """Write the ban candidates (the GraphQL `banCandidates` list, every page) as NDJSON."""
    import json

    from backend.bans.repository import iter_candidates
    from backend.graph.driver import create_driver

    settings = get_settings()
    risk = settings.DETECTION_FLAG_THRESHOLD if min_risk is None else min_risk
    confidence = settings.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence
    written = 0
    clusters: set[str] = set()
    tmp = out.with_name(out.name + ".partial")
    with create_driver(settings) as driver, tmp.open("w") as fh:
        for row in iter_candidates(driver, settings.NEO4J_DATABASE, risk, confidence):
            row["why"] = json.loads(row["why"]) if row["why"] else None  # stored as JSON text
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            written += 1
            clusters.add(row["cluster_id"])
    tmp.replace(out)  # never a half-written file under the final name
    console.print(f"wrote {written:,} ban candidates from {len(clusters):,} clusters to {out}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Create uniqueness constraints and indexes (idempotent)."""
    from backend.graph.driver import create_driver
    from backend.graph.schema_queries import migrate

    settings = get_settings()
    with create_driver(settings) as driver:
        names = migrate(driver, settings.NEO4J_DATABASE)
    console.print(f"{len(names)} constraints present: {', '.join(names)}")


@db_app.command("stats")
def db_stats() -> None:
    """Nodes per label and relationships per type."""
    from backend.graph.driver import create_driver
    from backend.graph.stats import graph_stats

    settings = get_settings()
    with create_driver(settings) as driver:
        stats = graph_stats(driver, settings.NEO4J_DATABASE)
    table = Table(title="graph")
    table.add_column("label / relationship")
    table.add_column("count", justify="right")
    for name, value in stats.items():
        table.add_row(name, f"{value:,}")
    console.print(table)


@schema_app.command("graphql")
def schema_graphql(
    out: Path = typer.Option(SDL_PATH, help="Where to write the SDL."),
    check: bool = typer.Option(False, help="Fail if the file differs from the code's schema."),
) -> None:
    """Export the GraphQL SDL (default: graphql/schema.graphql)."""
    from backend.api.graphql.schema import export_sdl

    sdl = export_sdl()
    if check:
        if not out.exists() or out.read_text() != sdl:
            console.print(f"[red]{out} is out of date:[/] run `heracles schema graphql`")
            raise typer.Exit(1)
        console.print(f"{out} is up to date")
        return
    out.write_text(sdl)
    console.print(f"wrote {out}")


@schema_app.command("breaking")
def schema_breaking(
    against: list[str] = typer.Option(
        ["origin/main", "main"], help="Base git revision(s); the first that exists is used."
    ),
) -> None:
    """Fail if the code's schema breaks clients of the base revision's graphql/schema.graphql."""
    from backend.api.graphql.contract import base_sdl, breaking_changes
    from backend.api.graphql.schema import export_sdl

    base = base_sdl(PROJECT_ROOT, tuple(against))
    if base is None:
        console.print(f"[red]none of {', '.join(against)} exists in this repository[/]")
        raise typer.Exit(2)
    ref, old = base
    changes = breaking_changes(old, export_sdl())
    for change in changes:
        console.print(f"[red]breaking[/] {change}")
    if changes:
        raise typer.Exit(1)
    console.print(f"no breaking changes against {ref}")


@schema_app.command("events")
def schema_events(
    out: Path | None = typer.Option(None, help="Write here instead of standard output."),
) -> None:
    """JSON Schema of the v1 event contract, for upstream teams to validate their output."""
    import json

    from backend.events.contract import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
