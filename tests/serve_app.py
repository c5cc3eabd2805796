"""A tiny app for `tests/integration/api/test_serve.py`: answers with the pid of the worker that
served the request, so the test can see how connections spread across workers."""

from __future__ import annotations

import os

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/pid")
    async def pid() -> int:
        return os.getpid()

    return app
