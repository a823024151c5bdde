"""The studio's HTTP API and page (FastAPI). ``create_app`` wires the state, the routers and the guards;
``stylo serve`` runs it with uvicorn.

Uploads are decoded and re-encoded as PNG under server-made names (no client path ever reaches the disk);
sizes, pixel counts, steps, queued runs and upload storage are capped; the settings are checked by
:class:`~stylo.config.Settings` like everywhere else, and server paths cannot be set from the web. Bad input
gets a JSON ``{"error": ...}`` with a 4xx status; see :mod:`stylo.web.security` for the guards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from stylo.errors import StyloError
from stylo.web import security
from stylo.web.db import RunStore
from stylo.web.events import Events
from stylo.web.jobs import JobQueue
from stylo.web.netdb import NetworkStore
from stylo.web.plan import Speed
from stylo.web.preview import Previews
from stylo.web.routes import clips, events, networks, pages, preview, runs, uploads
from stylo.web.state import Limits, error
from stylo.web.words import in_page_words

log = logging.getLogger("stylo.studio")


def allowed_hosts(host: str | None, token: str | None) -> frozenset[str] | None:
    """Loopback names, plus the address the server listens on; with a token, any host (the token guards)."""
    if token is not None:
        return None
    extra: set[str] = set()
    if host and host not in ("0.0.0.0", "::"):
        name = security.host_name(f"[{host}]".encode() if ":" in host else host.encode())
        extra = {name} if name else set()
    return security.LOOPBACK_HOSTS | extra


def create_app(data_dir: Path, token: str | None = None, workers: int = 1, host: str | None = None,
               limits: Limits | None = None) -> FastAPI:
    data_dir = Path(data_dir)
    for sub in ("uploads", "runs", "networks"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    store = RunStore(data_dir / "studio.sqlite3")
    store.mark_interrupted()
    learned = NetworkStore(store)
    learned.mark_interrupted()
    bus = Events()
    speed = Speed()
    jobs = JobQueue(store, data_dir, bus, workers, speed, learned)
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop()

    app = FastAPI(title="stylo studio", docs_url="/api/docs", openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.store, app.state.jobs, app.state.events = store, jobs, bus
    app.state.networks, app.state.previews = learned, Previews()
    app.state.data_dir, app.state.limits, app.state.speed = data_dir, limits, speed

    @app.exception_handler(StyloError)
    async def _bad_input(request: Request, exc: StyloError) -> JSONResponse:
        return error(400, in_page_words(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(422, f"bad request{' at ' + where if where else ''}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    app.mount("/static", StaticFiles(directory=pages.static_dir()), name="static")
    for module in (clips, pages, uploads, runs, networks, preview, events):
        app.include_router(module.router)
    # outermost last: the host and token are checked before anything else reads the request
    app.add_middleware(security.SecurityHeaders)
    app.add_middleware(security.OriginCheck)
    app.add_middleware(security.BodyLimit, limit=limits.max_upload_bytes + 65536)
    app.add_middleware(security.TokenAuth, token=token)
    app.add_middleware(security.HostCheck, allowed=allowed_hosts(host, token))
    return app
