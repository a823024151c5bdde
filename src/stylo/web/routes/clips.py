"""Clip uploads for video runs: decoded off the event loop within the studio's caps (bytes, frames, pixels),
kept as a folder of frames with its frame rate; the first frame doubles as the run's content (its poster)."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stylo.errors import StyloError
from stylo.web.routes.uploads import read_capped, store_upload
from stylo.web.state import Limits

router = APIRouter()


def clips_dir(data_dir: Path) -> Path:
    return data_dir / "uploads" / "clips"


def decode_clip(blob: bytes, suffix: str, limits: Limits, folder: Path) -> dict[str, Any]:
    """Decode a clip into ``folder`` as PNG frames, refusing one past the caps; returns its description."""
    from stylo.video.commands import require_video_extras
    from stylo.video.io import read_clip

    require_video_extras()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip{suffix}"
        path.write_bytes(blob)
        try:
            clip = read_clip(path, max_frames=limits.max_clip_frames + 1)
        except StyloError:
            raise
        except Exception:  # noqa: BLE001 - any decoder failure is a bad upload
            raise StyloError("the clip could not be decoded (not a video PyAV reads)") from None
    if len(clip.frames) > limits.max_clip_frames:
        raise StyloError(f"the clip is longer than this studio allows: at most {limits.max_clip_frames} frames")
    if len(clip.frames) < 2:
        raise StyloError("the clip needs at least 2 frames")
    w, h = clip.frames[0].size
    if w * h > limits.max_upload_pixels or min(w, h) < 16:
        raise StyloError(f"the clip's frames are {w}x{h} px: at least 16 px a side and at most "
                         f"{limits.max_upload_pixels // 10**6} megapixels")
    folder.mkdir(parents=True)
    for i, frame in enumerate(clip.frames):
        frame.save(folder / f"{i:05d}.png")
    meta = {"frames": len(clip.frames), "fps": str(clip.fps), "width": w, "height": h}
    (folder / "clip.json").write_text(json.dumps(meta))
    return {**meta, "first": clip.frames[0]}


@router.post("/api/clips", status_code=201, response_model=None)
async def upload_clip(request: Request, file: UploadFile) -> dict[str, Any] | Response:
    limits: Limits = request.app.state.limits
    blob = await read_capped(file, limits.max_clip_bytes, "the clip")
    if isinstance(blob, Response):
        return blob
    clip_id = uuid.uuid4().hex
    folder = clips_dir(request.app.state.data_dir) / clip_id
    suffix = Path(file.filename or "clip.mp4").suffix.lower()[:8] or ".mp4"
    try:
        meta = await run_in_threadpool(decode_clip, blob, suffix, limits, folder)
    except StyloError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    poster = await run_in_threadpool(store_upload, request, meta.pop("first"))
    return {"clip": clip_id, **meta, "id": poster["id"], "url": poster["url"]}
