"""The strawberry schema; `heracles schema graphql` exports it to graphql/schema.graphql."""

from __future__ import annotations

from importlib.metadata import version

import strawberry


@strawberry.type(description="Heracles API root.")
class Query:
    @strawberry.field(description="Version of the running Heracles server.")
    def api_version(self) -> str:
        return version("heracles")


schema = strawberry.Schema(query=Query)


def export_sdl() -> str:
    return schema.as_str() + "\n"
