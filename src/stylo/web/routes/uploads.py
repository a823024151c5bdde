"""Uploads: decoded off the event loop, re-saved as PNG under server-made names, within a disk quota."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from stylo.errors import StyloError
from stylo.image import decode_image, open_image
from stylo.web.routes.pages import samples
from stylo.web.state import UPLOAD_NAME, Limits, error

router = APIRouter()


def decode_upload(blob: bytes, limits: Limits) -> Image.Image:
    """Decode an uploaded image with the same checks as the CLI, and the studio's pixel limit."""
    img = decode_image(io.BytesIO(blob), "upload", max_pixels=limits.max_upload_pixels)
    if min(img.size) < 16:
        raise StyloError(f"upload is too small: {img.width}x{img.height} px (at least 16 px per side)")
    return img


def make_room(request: Request, incoming: int) -> None:
    """Keep the uploads folder under its quota: delete the oldest uploads that no run uses, or refuse."""
    state = request.app.state
    folder: Path = state.data_dir / "uploads"
    files = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
    used = sum(p.stat().st_size for p in files)
    if used + incoming <= state.limits.upload_quota_bytes:
        return
    keep = state.store.referenced_uploads()
    for path in files:
        if path.name in keep:
            continue
        used -= path.stat().st_size
        path.unlink(missing_ok=True)
        if used + incoming <= state.limits.upload_quota_bytes:
            return
    raise StyloError("the studio's upload storage is full; delete some runs first")


def store_upload(request: Request, img: Image.Image) -> dict[str, Any]:
    name = f"{uuid.uuid4().hex}.png"
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    make_room(request, buffer.tell())
    (request.app.state.data_dir / "uploads" / name).write_bytes(buffer.getvalue())
    return {"id": name, "width": img.width, "height": img.height, "url": f"/api/uploads/{name}"}


async def read_capped(file: UploadFile, limit: int, what: str) -> bytes | Response:
    """The uploaded bytes, or the error response for an empty upload or one over ``limit`` bytes."""
    blob = await file.read(limit + 1)
    if len(blob) > limit:
        return error(413, f"{what} is larger than {limit // 2**20} MB")
    return blob if blob else error(400, f"{what} is empty")


@router.post("/api/uploads", status_code=201, response_model=None)
async def upload(request: Request, file: UploadFile) -> dict[str, Any] | Response:
    limits: Limits = request.app.state.limits
    blob = await read_capped(file, limits.max_upload_bytes, "upload")
    if isinstance(blob, Response):
        return blob
    img = await run_in_threadpool(decode_upload, blob, limits)
    return await run_in_threadpool(store_upload, request, img)


@router.post("/api/uploads/sample", status_code=201, response_model=None)
def upload_sample(request: Request, body: dict[str, Any]) -> dict[str, Any] | Response:
    path = samples().get(str(body.get("name", "")))
    if path is None:
        return error(404, f"no sample named {str(body.get('name'))[:60]!r}")
    return store_upload(request, open_image(path, "sample"))


@router.get("/api/uploads/{name}", response_model=None)
def get_upload(request: Request, name: str) -> Response:
    path = request.app.state.data_dir / "uploads" / name
    return FileResponse(path) if UPLOAD_NAME.match(name) and path.is_file() else error(404, "no such upload")
