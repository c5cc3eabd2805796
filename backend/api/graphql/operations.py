"""The named operations in graphql/operations/: the client surface the tests, `heracles gql` and
`make bench-api` all run, each by its name."""

from __future__ import annotations

from graphql import OperationDefinitionNode, parse

from backend.core.config import PROJECT_ROOT

OPERATIONS_DIR = PROJECT_ROOT / "graphql" / "operations"


def named_operations() -> dict[str, str]:
    """Operation name -> the whole file defining it (clients send the file and pick one)."""
    out: dict[str, str] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        text = path.read_text()
        for node in parse(text).definitions:
            if isinstance(node, OperationDefinitionNode) and node.name:
                out[node.name.value] = text
    return out
