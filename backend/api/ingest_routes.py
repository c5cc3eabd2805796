"""`POST /v1/events`: NDJSON or a JSON array of events, validated here, applied by workers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend.auth.roles import INGEST_ROLES
from backend.core.config import Settings
from backend.events.validation import Rejection
from backend.ingest.journal import Journal
from backend.ingest.producer import Producer

router = APIRouter(tags=["ingest"])

MAX_ERRORS_RETURNED = 1000


async def _authorise(request: Request, authorization: str | None) -> None:
    principal = await request.app.state.authenticator.authenticate(authorization)
    if principal is None:
        raise HTTPException(401, "a bearer token with the `ingest` role is required",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if principal.role not in INGEST_ROLES:
        raise HTTPException(403, f"role `{principal.role}` may not send events; `ingest` may")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413, f"body over the {limit}-byte limit; split it into several requests"
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(
                413, f"body over the {limit}-byte limit; split it into several requests"
            )
    return bytes(body)


def _items(body: bytes, content_type: str) -> list[tuple[str, str | None, str]]:
    """(location, text or None if undecodable, raw) for every event in the body."""
    is_array = body.lstrip().startswith(b"[") or (
        "json" in content_type and "ndjson" not in content_type
    )
    if is_array:
        try:
            values = json.loads(body)
        except ValueError as exc:
            raise HTTPException(400, f"body is not a JSON array: {exc}") from exc
        if not isinstance(values, list):
            raise HTTPException(400, "a JSON body must be an array of events (or send NDJSON)")
        return [(f"index {i}", raw := json.dumps(v), raw) for i, v in enumerate(values)]
    items: list[tuple[str, str | None, str]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            items.append((f"line {number}", None, line.decode("utf-8", errors="replace")))
        else:
            items.append((f"line {number}", text, text))
    return items


@router.post("/v1/events", status_code=202)
async def post_events(
    request: Request, authorization: str | None = Header(default=None)
) -> JSONResponse:
    settings: Settings = request.app.state.settings
    await _authorise(request, authorization)
    backlog = await run_in_threadpool(Journal(request.app.state.sync_redis).backlog)
    if backlog >= settings.INGEST_MAX_JOURNAL_BACKLOG:
        return JSONResponse(
            {"detail": "the ingest journal is full (the graph writer is behind); retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    body = await _read_limited(request, settings.INGEST_MAX_BODY_BYTES)
    items = _items(body, request.headers.get("content-type", ""))
    producer = Producer(
        request.app.state.sync_redis, settings.INGEST_BATCH_SIZE, max_inflight=1_000_000,
        keep_task_ids=True,
    )  # fmt: skip
    errors: list[dict[str, Any]] = []

    def enqueue_all() -> None:
        for location, text, raw in items:
            rejection: Rejection | None
            if text is None:
                rejection = Rejection("http", location, "", "not valid UTF-8", raw)
                producer.reject(rejection)
            else:
                rejection = producer.add(text, "http", location)
            if rejection is not None and len(errors) < MAX_ERRORS_RETURNED:
                errors.append(
                    {"location": rejection.location, "field": rejection.field,
                     "reason": rejection.reason, "event_id": rejection.event_id}
                )  # fmt: skip
        producer.flush()

    await run_in_threadpool(enqueue_all)
    stats = producer.stats
    return JSONResponse(
        {"accepted": stats.accepted, "rejected": stats.rejected, "errors": errors,
         "batches": stats.task_ids},
        status_code=202,
    )  # fmt: skip
