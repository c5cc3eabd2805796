"""The SDL as a contract: breaking changes against a base revision's `graphql/schema.graphql`.

Clients (ban tooling, analysts' saved operations) break when a field, argument or enum value
disappears or changes type; graphql-core's `find_breaking_changes` lists exactly those.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from graphql import build_schema, find_breaking_changes

SDL_FILE = "graphql/schema.graphql"


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    changes = find_breaking_changes(build_schema(old_sdl), build_schema(new_sdl))
    return [f"{c.type.name}: {c.description}" for c in changes]


def base_sdl(repo: Path, refs: tuple[str, ...]) -> tuple[str, str] | None:
    """(ref, SDL at that ref) for the first ref git knows, or None when none of them exists."""
    for ref in refs:
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{ref}:{SDL_FILE}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if shown.returncode == 0:
            return ref, shown.stdout
    return None
