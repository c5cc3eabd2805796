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


def _git(repo: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    return done.stdout if done.returncode == 0 else None


def base_sdl(repo: Path, refs: tuple[str, ...]) -> tuple[str, str] | None:
    """(what it is, its SDL): the SDL where HEAD left the first ref git knows (their merge
    base). When HEAD is that base itself (a clone of main, as CI checks out), the commit before
    HEAD: the check then asks whether the last change broke main's clients, instead of comparing
    main with itself. None when no ref exists, HEAD has no parent, or the base has no SDL."""
    head = (_git(repo, "rev-parse", "HEAD") or "").strip()
    for ref in refs:
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None:
            continue
        base = (_git(repo, "merge-base", "HEAD", ref) or "").strip()
        if not base:
            continue
        label = f"the merge base of HEAD and {ref} ({base[:10]})"
        if base == head:
            parent = (_git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1") or "").strip()
            if not parent:
                return None
            base, label = parent, f"HEAD~1 ({parent[:10]}; HEAD is {ref})"
        sdl = _git(repo, "show", f"{base}:{SDL_FILE}")
        return (label, sdl) if sdl is not None else None
    return None
