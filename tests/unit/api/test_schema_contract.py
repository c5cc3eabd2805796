import os
from pathlib import Path

import pytest

from backend.api.graphql.contract import base_sdl, breaking_changes
from backend.api.graphql.schema import export_sdl

ROOT = Path(__file__).resolve().parents[3]
SDL = ROOT / "graphql" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text() == export_sdl(), (
        "graphql/schema.graphql drifted: run `heracles schema graphql`"
    )


def test_no_breaking_change_against_main() -> None:
    """Against where this work left HERACLES_SCHEMA_BASE (default origin/main, else main), or
    against the commit before HEAD when HEAD is main itself: removing or retyping anything a
    client may use fails `make test`."""
    refs = tuple(filter(None, [os.environ.get("HERACLES_SCHEMA_BASE"), "origin/main", "main"]))
    base = base_sdl(ROOT, refs)
    if base is None:
        pytest.skip(f"no base to compare with: none of {refs} exists, HEAD has no parent, "
                    "or the base has no graphql/schema.graphql")  # fmt: skip
    ref, old = base
    assert old, ref
    assert breaking_changes(old, export_sdl()) == [], f"breaking changes against {ref}"


def test_breaking_change_detector_catches_removals_and_retyping() -> None:
    old = "type Query { a: String!, b(x: Int): Int }\nenum E { X Y }\ntype T { e: E }"
    assert breaking_changes(old, old) == []
    removed = "type Query { b(x: Int): Int }\nenum E { X Y }\ntype T { e: E }"
    assert any("Query.a" in c for c in breaking_changes(old, removed))
    retyped = "type Query { a: Int!, b(x: Int): Int }\nenum E { X }\ntype T { e: E }"
    found = breaking_changes(old, retyped)
    assert any("Query.a" in c for c in found) and any("Y" in c for c in found)
    added = "type Query { a: String!, b(x: Int): Int, c: Int }\nenum E { X Y }\ntype T { e: E }"
    assert breaking_changes(old, added) == []
