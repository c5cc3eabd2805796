"""The typed per-request context every resolver gets: who is calling, the driver, the loaders."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from neo4j import AsyncDriver
from strawberry.fastapi import BaseContext

from backend.api.graphql.dataloaders import Loaders
from backend.auth.tokens import Principal
from backend.core.config import Settings
from backend.investigation.repository import Reads


class Context(BaseContext):
    def __init__(
        self, driver: AsyncDriver, settings: Settings, principal: Principal | None
    ) -> None:
        super().__init__()
        self.driver = driver
        self.settings = settings
        self.database = settings.NEO4J_DATABASE
        self.principal = principal
        self.reads = Reads(driver, settings.NEO4J_DATABASE, settings.API_QUERY_TIMEOUT_S)
        self.loaders = Loaders(self.reads)

    def caller(self) -> Principal:
        """Mutations run only after the role policy let the operation through, so a principal
        is always there; this narrows the type for them."""
        assert self.principal is not None
        return self.principal


Info: TypeAlias = strawberry.Info[Context, None]
