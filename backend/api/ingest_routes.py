"""`POST /v1/events`: NDJSON or a JSON array of events, validated here, applied by workers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend.auth.roles import INGEST_ROLES
from backend.core.config import Settings
from backend.events.reader import MAX_LINE_BYTES
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


def _is_array(content_type: str) -> bool:
    """The body's format comes from its Content-Type, never from its first byte (an NDJSON
    line may start with `[`): `application/json` is one JSON array; NDJSON otherwise
    (`application/x-ndjson`, `application/jsonl`, `text/plain`, or none)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.endswith("+json") and "ndjson" not in media)


# (location, text to validate or None if unusable, raw text kept for the DLQ, reason if unusable)
Item = tuple[str, str | None, str, str]


def _oversized(location: str, raw: bytes) -> Item:
    """An item over the per-event limit, refused alone: the same cap as `heracles ingest`."""
    reason = f"item is {len(raw)} bytes, over the {MAX_LINE_BYTES}-byte limit for one event"
    return location, None, raw[:MAX_LINE_BYTES].decode("utf-8", errors="replace"), reason


def _too_many(count: int, limit: int) -> HTTPException:
    return HTTPException(
        413, f"{count} items is over the {limit}-event limit per request; split the body"
    )


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"
_SKIP_SPACE = re.compile(r"[ \t\n\r]*")  # one C-level scan, not a Python step per character


def _array_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """Where each element of a JSON array sits in `text`, checking the whole array first (a
    malformed body is refused before anything is enqueued). Elements are decoded one at a time
    and dropped: only their spans are kept, not a Python object per element."""
    at = len(text) - len(text.lstrip(_SPACE))
    if not text.startswith("[", at):
        raise HTTPException(400, "a JSON body must be an array of events (or send NDJSON)")
    at += 1
    spans: list[tuple[int, int]] = []
    try:
        while True:
            at = _SKIP_SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text.startswith("]", at) and not spans:
                at += 1
                break
            _, end = _DECODER.raw_decode(text, at)
            spans.append((at, end))
            if len(spans) > limit:
                raise _too_many(len(spans), limit)
            end = _SKIP_SPACE.match(text, end).end()  # type: ignore[union-attr]
            if text.startswith(",", end):
                at = end + 1
            elif text.startswith("]", end):
                at = end + 1
                break
            else:
                raise ValueError(f"expected ',' or ']' at character {end}")
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise HTTPException(400, f"body is not a JSON array of events: {reason}") from exc
    if text[at:].strip(_SPACE):
        raise HTTPException(400, "body is not a JSON array of events: text after the array")
    return spans


def _items(body: bytes, content_type: str, limit: int = 100_000) -> Iterator[Item]:
    """Every event in the body, in order, one at a time (a request's memory is its body and the
    batch being built, not a Python object per line). Checked before the first item: the body
    parses (arrays) and holds at most `limit` items."""
    if _is_array(content_type):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HTTPException(400, f"body is not UTF-8 at byte {exc.start}") from exc
        spans = _array_spans(text, limit)
        return _array_items(text, spans)
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if lines > limit:
        raise _too_many(lines, limit)
    return _ndjson_items(body)


def _array_items(text: str, spans: list[tuple[int, int]]) -> Iterator[Item]:
    for i, (start, end) in enumerate(spans):
        raw = text[start:end]
        if len(raw.encode()) > MAX_LINE_BYTES:
            yield _oversized(f"index {i}", raw.encode())
        else:
            yield f"index {i}", raw, raw, ""


def _ndjson_items(body: bytes) -> Iterator[Item]:
    start, number = 0, 0
    while start < len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end
        line, start, number = body[start:end].rstrip(b"\r"), end + 1, number + 1
        location = f"line {number}"
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield _oversized(location, line)
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield location, None, line.decode("utf-8", errors="replace"), "not valid UTF-8"
        else:
            yield location, text, text, ""


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
    items = _items(
        body, request.headers.get("content-type", ""), settings.INGEST_MAX_EVENTS_PER_REQUEST
    )
    producer = Producer(
        request.app.state.sync_redis, settings.INGEST_BATCH_SIZE, max_inflight=1_000_000,
        keep_task_ids=True, dlq_max_bytes=settings.INGEST_DLQ_MAX_BYTES,
    )  # fmt: skip
    errors: list[dict[str, Any]] = []

    def enqueue_all() -> None:
        for location, text, raw, reason in items:
            rejection: Rejection | None
            if text is None:
                rejection = Rejection("http", location, "", reason, raw)
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
        {"accepted": stats.accepted, "rejected": stats.rejected, "not_kept": stats.not_kept,
         "errors": errors, "batches": stats.task_ids},
        status_code=202,
    )  # fmt: skip
