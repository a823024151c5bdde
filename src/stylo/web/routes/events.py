"""Server-sent events of a run or a training: a snapshot, then its progress until it ends. Streams are async
(they hold no thread), capped in number, and closed after a while (the browser reconnects)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from stylo.web import events as ev
from stylo.web.netdb import public_network
from stylo.web.routes import networks
from stylo.web.routes.runs import find, public
from stylo.web.state import error

router = APIRouter()
Snapshot = Callable[[], dict[str, Any]]


@router.get("/api/runs/{run_id}/events", response_model=None)
async def run_events(request: Request, run_id: str) -> Response:
    if find(request, run_id) is None:
        return error(404, "no such run")
    store = request.app.state.store
    return open_stream(request, run_id, lambda: public(store.get(run_id) or {}))


@router.get("/api/networks/{network_id}/events", response_model=None)
async def network_events(request: Request, network_id: str) -> Response:
    """A training's events: ``start``, a ``learn`` per step (step, total, loss, eta), then ``end``."""
    if networks.find(request, network_id) is None:
        return error(404, "no such learned style")
    state = request.app.state
    return open_stream(request, network_id,
                       lambda: public_network(state.networks.get(network_id) or {"id": network_id, "status": "failed",
                                                                                "style": ""}, state.data_dir))


def open_stream(request: Request, key: str, snapshot: Snapshot) -> Response:
    events: ev.Events = request.app.state.events
    try:
        q = events.subscribe(key)
    except ev.TooManyStreams:
        return error(503, "too many open progress streams; close some studio tabs")
    return StreamingResponse(stream(request, key, q, snapshot), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def stream(request: Request, key: str, q: asyncio.Queue[dict[str, Any]], snapshot: Snapshot
                 ) -> AsyncIterator[str]:
    events: ev.Events = request.app.state.events
    deadline = time.monotonic() + ev.STREAM_SECONDS
    try:
        item = snapshot()
        queue_info = request.app.state.store.position(key)
        yield f"data: {json.dumps({'type': 'snapshot', **item, **queue_info})}\n\n"
        if item.get("status") not in ("queued", "running"):
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
        events.unsubscribe(key, q)
