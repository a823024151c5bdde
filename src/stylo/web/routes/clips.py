"""Clip uploads for video runs: decoded off the event loop within the studio's caps (bytes, frames, pixels),
kept as a folder of frames with its frame rate; the first frame doubles as the run's content (its poster)."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stylo.errors import StyloError
from stylo.image import MAX_PIXELS, open_image
from stylo.video.io import DEFAULT_FPS
from stylo.web.routes.uploads import read_capped, store_upload
from stylo.web.state import Limits, clean_label

router = APIRouter()


def clips_dir(data_dir: Path) -> Path:
    return data_dir / "uploads" / "clips"


def check_stream(width: int, height: int, frames: int, name: str, limits: Limits) -> None:
    """Refuse a clip from its stream's own description, before a frame is decoded (a 200 KB MP4 can hold
    50 frames of 8000×8000 px: 9.6 GB as RGB)."""
    per_frame = min(limits.max_upload_pixels, MAX_PIXELS)
    if width * height > per_frame:
        raise StyloError(f"{name} is too large: its frames are {width}x{height} px; this studio takes clips "
                         f"of at most {per_frame / 1e6:.0f} megapixels a frame")
    if frames > limits.max_clip_frames:
        raise StyloError(f"{name} is too long: {frames} frames; this studio takes at most "
                         f"{limits.max_clip_frames} frames")
    if width * height * frames > limits.max_clip_pixels:
        raise StyloError(f"{name} is too large: {frames} frames of {width}x{height} px; this studio takes at "
                         f"most {limits.max_clip_pixels / 1e6:.0f} megapixels in all")


def decode_clip(blob: bytes, name: str, limits: Limits, folder: Path) -> dict[str, Any]:
    """Decode a clip into ``folder`` as PNG frames, one frame in memory at a time, refusing one past the caps
    (checked from the stream's header first, then on every decoded frame: a header can lie); returns its
    description. Messages name the upload, never a server path."""
    from stylo.video.extras import require_video_extras

    require_video_extras()
    import av

    try:
        with av.open(io.BytesIO(blob), "r") as container:
            if not container.streams.video:
                raise StyloError(f"{name} has no video stream")
            stream = container.streams.video[0]
            check_stream(stream.width, stream.height, stream.frames, name, limits)
            fps = Fraction(stream.average_rate or DEFAULT_FPS)
            meta = decode_frames(container.decode(stream), name, limits, folder)
    except StyloError:
        raise
    except Exception:  # noqa: BLE001 - any decoder failure is a bad upload
        raise StyloError(f"{name} could not be decoded (not a video PyAV reads)") from None
    (folder / "clip.json").write_text(json.dumps({**meta, "fps": str(fps)}))
    return {**meta, "fps": str(fps)}


def decode_frames(decoded: Iterator[Any], name: str, limits: Limits, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    count, size = 0, (0, 0)
    for frame in decoded:
        check_stream(frame.width, frame.height, count + 1, name, limits)
        if count and (frame.width, frame.height) != size:
            raise StyloError(f"{name} changes its frame size midway; this studio takes clips of one size")
        size = (frame.width, frame.height)
        frame.to_image().convert("RGB").save(folder / f"{count:05d}.png")
        count += 1
    if count < 2:
        raise StyloError(f"{name} has {count} frame{'s' if count != 1 else ''}: a clip needs at least 2 frames")
    if min(size) < 16:
        raise StyloError(f"{name} is too small: its frames are {size[0]}x{size[1]} px (at least 16 px a side)")
    return {"frames": count, "width": size[0], "height": size[1]}


@router.post("/api/clips", status_code=201, response_model=None)
async def upload_clip(request: Request, file: UploadFile) -> dict[str, Any] | Response:
    limits: Limits = request.app.state.limits
    blob = await read_capped(file, limits.max_clip_bytes, "the clip")
    if isinstance(blob, Response):
        return blob
    clip_id = uuid.uuid4().hex
    folder = clips_dir(request.app.state.data_dir) / clip_id
    name = repr(clean_label(file.filename, "clip", limits.max_label))
    try:
        meta = await run_in_threadpool(decode_clip, blob, f"the clip {name}", limits, folder)
    except StyloError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    poster = await run_in_threadpool(store_upload, request, open_image(folder / "00000.png", "frame"))
    return {"clip": clip_id, **meta, "id": poster["id"], "url": poster["url"]}
