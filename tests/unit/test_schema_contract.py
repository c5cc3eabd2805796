from pathlib import Path

from backend.api.graphql.schema import export_sdl

SDL = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text() == export_sdl(), (
        "graphql/schema.graphql drifted: run `heracles schema graphql`"
    )
