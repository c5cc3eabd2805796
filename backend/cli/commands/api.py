"""`heracles gql|export-bans`: the API's client surface from a shell."""

from __future__ import annotations

from pathlib import Path

import typer

from backend.cli.common import console
from backend.core.config import get_settings

app = typer.Typer()


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
    min_confidence_confirmed: float | None = typer.Option(
        None,
        help="In confirmed clusters and networks. Default: "
        "DETECTION_CONFIRMED_MIN_CONFIDENCE (never above --min-confidence).",
    ),
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
        confirmed = (settings.DETECTION_CONFIRMED_MIN_CONFIDENCE
                     if min_confidence_confirmed is None else min_confidence_confirmed)  # fmt: skip
        for row in iter_candidates(driver, settings.NEO4J_DATABASE, risk, confidence, confirmed):
            row["why"] = json.loads(row["why"]) if row["why"] else None  # stored as JSON text
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            written += 1
            clusters.add(row["cluster_id"])
    tmp.replace(out)  # never a half-written file under the final name
    console.print(f"wrote {written:,} ban candidates from {len(clusters):,} clusters to {out}")
