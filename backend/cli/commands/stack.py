"""`heracles up|down|status|smoke`: the local stack."""

from __future__ import annotations

import uuid

import typer
from rich.table import Table

from backend.cli.common import console
from backend.core.config import get_settings
from devstack.neo4j_home import PrerequisiteError

app = typer.Typer()


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
