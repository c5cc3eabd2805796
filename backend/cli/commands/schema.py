"""`heracles schema`: the contracts other teams build against."""

from __future__ import annotations

from pathlib import Path

import typer

from backend.cli.common import console
from backend.core.config import PROJECT_ROOT

app = typer.Typer()
schema_app = typer.Typer(
    help="Export the contracts other teams build against.", no_args_is_help=True
)
SDL_PATH = PROJECT_ROOT / "graphql" / "schema.graphql"


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
