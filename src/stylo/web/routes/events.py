"""Server-sent events of a run: a snapshot, then its progress until it ends. Streams are async (they hold no
thread), capped in number, and closed after a while (the browser reconnects)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from stylo.web import events as ev
from stylo.web.routes.runs import find, public
from stylo.web.state import error

router = APIRouter()


@router.get("/api/runs/{run_id}/events", response_model=None)
async def run_events(request: Request, run_id: str) -> Response:
    if find(request, run_id) is None:
        return error(404, "no such run")
    events: ev.Events = request.app.state.events
    try:
        q = events.subscribe(run_id)
    except ev.TooManyStreams:
        return error(503, "too many open progress streams; close some studio tabs")
    return StreamingResponse(stream(request, run_id, q), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def stream(request: Request, run_id: str, q: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[str]:
    events: ev.Events = request.app.state.events
    deadline = time.monotonic() + ev.STREAM_SECONDS
    try:
        run = public(request.app.state.store.get(run_id) or {})
        queue_info = request.app.state.store.position(run_id)
        yield f"data: {json.dumps({'type': 'snapshot', **run, **queue_info})}\n\n"
        if run.get("status") not in ("queued", "running"):
            return
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(q.get(), timeout=ev.KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            yield f"data: {json.dumps(public(event))}\n\n"
            if event.get("type") == "end":
                return
    finally:
        events.unsubscribe(run_id, q)
