"""The `heracles` command line."""

from __future__ import annotations

import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from backend.core.config import PROJECT_ROOT, get_settings
from backend.stack.neo4j_home import PrerequisiteError

app = typer.Typer(
    help="Heracles: account-fraud graph investigation.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Graph database maintenance.", no_args_is_help=True)
schema_app = typer.Typer(
    help="Export the contracts other teams build against.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")

console = Console()
SDL_PATH = PROJECT_ROOT / "graphql" / "schema.graphql"


@app.command()
def up() -> None:
    """Start Neo4j, Redis, a Celery worker, beat and the API; wait until each is ready."""
    from backend.stack import lifecycle

    try:
        lifecycle.up(get_settings(), console)
    except (PrerequisiteError, RuntimeError, TimeoutError) as exc:
        console.print(f"[red]heracles up failed:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def down() -> None:
    """Stop exactly the processes `heracles up` started."""
    from backend.stack import lifecycle

    lifecycle.down(get_settings(), console)


@app.command()
def status(quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the exit code.")) -> None:
    """Health of each component; exits 1 unless all five are healthy."""
    from backend.stack import lifecycle

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


@db_app.command("migrate")
def db_migrate() -> None:
    """Create uniqueness constraints and indexes (idempotent)."""
    from backend.graph.driver import create_driver
    from backend.graph.schema_queries import migrate

    settings = get_settings()
    with create_driver(settings) as driver:
        names = migrate(driver, settings.NEO4J_DATABASE)
    console.print(f"{len(names)} constraints present: {', '.join(names)}")


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


if __name__ == "__main__":
    app()
