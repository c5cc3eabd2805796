"""`heracles db`: graph database maintenance."""

from __future__ import annotations

import typer
from rich.table import Table

from backend.cli.common import console
from backend.core.config import get_settings

app = typer.Typer()
db_app = typer.Typer(help="Graph database maintenance.", no_args_is_help=True)


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
