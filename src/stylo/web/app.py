"""The studio's HTTP API and page (FastAPI). ``create_app`` builds it; ``stylo serve`` runs it with uvicorn.

Uploads are decoded and re-encoded as PNG under server-generated names (no client path ever reaches the
disk); sizes and pixel counts are limited; bad input gets a JSON ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

import io
import json
import queue
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image

from stylo.config import from_mapping
from stylo.errors import StyloError
from stylo.image import MAX_PIXELS, decode_image, open_image
from stylo.web.db import RunStore
from stylo.web.jobs import Events, JobQueue

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_PIXELS = min(MAX_PIXELS, 40_000_000)
MAX_SIZE, MAX_STEPS = 1024, 2000
UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.png$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SAMPLE_SUFFIXES = (".jpg", ".png")


def static_dir() -> Path:
    return Path(str(resources.files("stylo.web") / "static"))


def samples() -> dict[str, Path]:
    folder = Path(str(resources.files("stylo") / "samples"))
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix in SAMPLE_SUFFIXES and "mask" not in p.name
            and "protect" not in p.name}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(data_dir: Path, token: str | None = None, workers: int = 1) -> FastAPI:
    data_dir = Path(data_dir)
    for sub in ("uploads", "runs"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    store = RunStore(data_dir / "studio.sqlite3")
    store.mark_interrupted()
    events = Events()
    jobs = JobQueue(store, data_dir, events, workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop()

    app = FastAPI(title="stylo studio", docs_url="/api/docs", openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.store, app.state.jobs, app.state.events = store, jobs, events

    @app.middleware("http")
    async def _limit_body(request: Request, call_next: Any) -> Response:
        """Refuse an oversized body from its Content-Length, before it is received and spooled to disk."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 65536:
            return error(413, f"request body is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        response: Response = await call_next(request)
        return response

    @app.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token") or request.cookies.get("stylo_token") or \
            request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given or "", token):
            return error(401, "this studio needs its token: open the address that `stylo serve` printed")
        response: Response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie("stylo_token", token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(StyloError)
    async def _bad_input(request: Request, exc: StyloError) -> JSONResponse:
        return error(400, str(exc))

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse((static_dir() / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        from stylo import __version__

        return {"ok": True, "version": __version__}

    @app.get("/api/samples")
    def list_samples() -> list[dict[str, str]]:
        return [{"name": name, "url": f"/api/samples/{name}"} for name in samples()]

    @app.get("/api/samples/{name}", response_model=None)
    def get_sample(name: str) -> Response:
        path = samples().get(name)
        return FileResponse(path) if path else error(404, f"no sample named {name!r}")

    def store_upload(img: Image.Image) -> dict[str, Any]:
        name = f"{uuid.uuid4().hex}.png"
        img.save(data_dir / "uploads" / name, format="PNG")
        return {"id": name, "width": img.width, "height": img.height, "url": f"/api/uploads/{name}"}

    @app.post("/api/uploads", status_code=201, response_model=None)
    async def upload(file: UploadFile) -> dict[str, Any] | JSONResponse:
        blob = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(blob) > MAX_UPLOAD_BYTES:
            return error(413, f"upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        if not blob:
            return error(400, "upload is empty")
        return store_upload(decode_upload(blob))

    @app.post("/api/uploads/sample", status_code=201, response_model=None)
    def upload_sample(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        path = samples().get(str(body.get("name", "")))
        if path is None:
            return error(404, f"no sample named {body.get('name')!r}")
        return store_upload(open_image(path, "sample"))

    @app.get("/api/uploads/{name}", response_model=None)
    def get_upload(name: str) -> Response:
        path = data_dir / "uploads" / name
        return FileResponse(path) if UPLOAD_NAME.match(name) and path.is_file() else error(404, "no such upload")

    @app.post("/api/runs", status_code=201, response_model=None)
    def create_run(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        for role in ("content", "style"):
            name = str(body.get(role, ""))
            if not UPLOAD_NAME.match(name) or not (data_dir / "uploads" / name).is_file():
                return error(400, f"{role} must be the id of an upload")
        raw = body.get("settings") or {}
        if not isinstance(raw, dict):
            return error(400, "settings must be an object")
        s = from_mapping(raw, source="the request")
        if s.size > MAX_SIZE or s.steps > MAX_STEPS or s.coarse_steps > MAX_STEPS:
            return error(400, f"the studio allows --size up to {MAX_SIZE} and up to {MAX_STEPS} steps")
        if s.seed is None:
            s = s.replace(seed=secrets.randbelow(2**31))
        run_id = uuid.uuid4().hex
        labels = [str(body.get(f"{role}_label") or role)[:80] for role in ("content", "style")]
        run = store.create(run_id, s.to_dict(), body["content"], body["style"], *labels)
        jobs.submit(run_id)
        return run

    @app.get("/api/runs")
    def list_runs() -> list[dict[str, Any]]:
        return store.list()

    def find(run_id: str) -> dict[str, Any] | None:
        return store.get(run_id) if RUN_ID.match(run_id) else None

    @app.get("/api/runs/{run_id}", response_model=None)
    def get_run(run_id: str) -> dict[str, Any] | JSONResponse:
        return find(run_id) or error(404, "no such run")

    @app.post("/api/runs/{run_id}/cancel", response_model=None)
    def cancel(run_id: str) -> dict[str, Any] | JSONResponse:
        run = find(run_id)
        if run is None:
            return error(404, "no such run")
        if run["status"] not in ("queued", "running"):
            return error(409, f"run is {run['status']}, not queued or running")
        jobs.cancel(run_id)
        return {"id": run_id, "cancelling": True}

    def run_file(run_id: str, which: str) -> Path | None:
        run = find(run_id)
        name = run.get(which) if run else None
        path = data_dir / "runs" / name if name else None
        return path if path is not None and path.is_file() else None

    @app.get("/api/runs/{run_id}/image", response_model=None)
    def result_image(run_id: str) -> Response:
        path = run_file(run_id, "result")
        return FileResponse(path, filename=f"stylo-{run_id[:8]}.png") if path else error(404, "no result yet")

    @app.get("/api/runs/{run_id}/frame", response_model=None)
    def frame_image(run_id: str) -> Response:
        path = run_file(run_id, "frame")
        return FileResponse(path, headers={"Cache-Control": "no-store"}) if path else error(404, "no frame yet")

    @app.get("/api/runs/{run_id}/events", response_model=None)
    def run_events(run_id: str) -> Response:
        run = find(run_id)
        if run is None:
            return error(404, "no such run")
        return StreamingResponse(sse(run_id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def sse(run_id: str) -> Iterator[str]:
        q = events.subscribe(run_id)
        try:
            run = store.get(run_id) or {}
            yield f"data: {json.dumps({'type': 'snapshot', **run})}\n\n"
            if run.get("status") not in ("queued", "running"):
                return
            while True:
                try:
                    event = q.get(timeout=15)
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(event)}\n\n"
                if event.get("type") == "end":
                    return
        finally:
            events.unsubscribe(run_id, q)

    return app


def decode_upload(blob: bytes) -> Image.Image:
    """Decode an uploaded image with the same checks as the CLI, and the studio's pixel limit."""
    img = decode_image(io.BytesIO(blob), "upload", max_pixels=MAX_UPLOAD_PIXELS)
    if min(img.size) < 16:
        raise StyloError(f"upload is too small: {img.width}x{img.height} px (at least 16 px per side)")
    return img
