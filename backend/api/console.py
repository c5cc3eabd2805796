"""The investigation console (ui/, built by `make install`): its files under /ui, every other
/ui path answered with its index.html (the console routes in the browser), `/` sent to it, and
GET /graphql sent to its bundled explorer outside prod (strawberry's GraphiQL page loads React
and GraphiQL from a public CDN, so it never loads air-gapped)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from backend.core.config import Settings

# Everything the console loads comes from this origin: scripts and styles from its bundle, data
# from /graphql. Inline styles are allowed for the graph and editor widgets; blob: workers for
# the graph layout's and the editor's web workers.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# Hashed file names under assets/ never change content; index.html must always be re-read.
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = "The console is not built: run `make install` (or `npm ci && npm run build` in ui/).\n"


def _file(dist: Path, path: str) -> Path | None:
    """The built file at `path`, never outside the build folder."""
    if not path:
        return None
    candidate = (dist / path).resolve()
    if dist.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def console_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    dist = settings.UI_DIST

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.get("/ui")
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.get("/ui/{path:path}")
    async def ui(path: str) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        found = _file(dist, path)
        if found is not None:
            cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
            return FileResponse(found, headers={**SECURITY_HEADERS, "cache-control": cache})
        if path.startswith("assets/"):
            return PlainTextResponse("no such asset", status_code=404)
        return FileResponse(index, headers={**SECURITY_HEADERS, "cache-control": "no-cache"})

    if settings.ENV != "prod":

        @router.get("/graphql")
        async def explorer() -> RedirectResponse:
            return RedirectResponse("/ui/explorer")

    return router


def install_console(app: FastAPI, settings: Settings) -> None:
    """Before the GraphQL router, so GET /graphql reaches the explorer redirect first."""
    app.include_router(console_router(settings))
