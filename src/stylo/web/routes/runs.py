"""Runs: create (settings checked by :class:`~stylo.config.Settings` plus the studio's caps), list, read,
cancel, delete, and their images (and a video run's MP4)."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from PIL import Image

from stylo.config import WEB_FIELDS, Settings
from stylo.plan import run_seed
from stylo.settings_io import from_mapping
from stylo.web.plan import Level, check_runnable, describe
from stylo.web.routes.clips import clips_dir
from stylo.web.routes.networks import network_run
from stylo.web.state import RUN_ID, UPLOAD_NAME, Limits, clean_label, error

router = APIRouter()
NO_PHOTO = (4000, 3000)  # what /api/plan assumes before a photo is chosen: a 4:3 one


@dataclass
class Checked:
    """A checked request for a run: its settings and the levels they make on this content."""

    settings: Settings
    levels: list[Level]
    frames: int


def content_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:  # an upload is a PNG the server wrote; only its header is read
        return img.size


def prepare(request: Request, body: dict[str, Any], need_inputs: bool = True) -> Checked | Response:
    """The settings of ``body`` checked like the CLI checks them (plus the studio's caps), or the error."""
    state = request.app.state
    limits: Limits = state.limits
    uploads = state.data_dir / "uploads"
    for role in ("content", "style") if need_inputs else ():
        name = str(body.get(role, ""))
        if not UPLOAD_NAME.match(name) or not (uploads / name).is_file():
            return error(400, f"{role} must be the id of an upload")
    raw = body.get("settings") or {}
    if not isinstance(raw, dict):
        return error(400, "settings must be an object")
    clip, frames = body.get("clip"), 0
    if clip is not None:
        if not isinstance(clip, str) or not RUN_ID.match(clip) or not (clips_dir(state.data_dir) / clip).is_dir():
            return error(400, "clip must be the id of an uploaded clip")
        meta = json.loads((clips_dir(state.data_dir) / clip / "clip.json").read_text())
        frames = int(meta["frames"])
        if "size" not in raw:  # a clip keeps its own size unless asked otherwise
            raw = {**raw, "size": min(max(meta["width"], meta["height"]), limits.max_clip_size, limits.max_size)}
    s = from_mapping(raw, source="the studio", allowed=WEB_FIELDS)
    if s.size > limits.max_size:
        return error(400, f"Size: this studio allows sizes up to {limits.max_size} px")
    if clip is not None and s.size > min(limits.max_clip_size, limits.max_size):
        return error(400, f"Size: this studio makes clips up to {min(limits.max_clip_size, limits.max_size)} px")
    s = s.replace(max_memory=limits.max_memory)  # runs are tiled within the server's budget
    if max(s.steps, s.coarse_steps) > limits.max_steps:
        return error(400, f"Steps: this studio allows up to {limits.max_steps} steps per level")
    name = str(body.get("content", ""))
    size = content_size(uploads / name) if UPLOAD_NAME.match(name) and (uploads / name).is_file() else NO_PHOTO
    return Checked(s, check_runnable(s, size), frames)


@router.post("/api/runs", status_code=201, response_model=None)
def create_run(request: Request, body: dict[str, Any]) -> dict[str, Any] | Response:
    """A run of the optimizer; with ``network`` (a learned style's id) instead of ``style``, one pass of that
    network (:func:`~stylo.web.routes.networks.network_run`)."""
    if body.get("network") is not None:
        return network_run(request, body)
    state = request.app.state
    limits: Limits = state.limits
    checked = prepare(request, body)
    if isinstance(checked, Response):
        return checked
    s = checked.settings
    s = s.replace(seed=run_seed(s.seed))  # recorded with the run, so "repeat that run's seed" can offer it
    run_id = uuid.uuid4().hex
    labels = [clean_label(body.get(f"{role}_label"), role, limits.max_label) for role in ("content", "style")]
    run = state.store.create(run_id, s.to_dict(), body["content"], body["style"], *labels, clip=body.get("clip"),
                             max_active=limits.max_queued)
    if run is None:
        return error(429, f"{limits.max_queued} runs are already waiting; try again when one has finished")
    state.jobs.submit(run_id)
    return run


@router.post("/api/plan", response_model=None)
def plan(request: Request, body: dict[str, Any]) -> dict[str, Any] | Response:
    """What a run of these settings would do here, before Start: its levels and steps, time and memory."""
    checked = prepare(request, body, need_inputs=False)
    if isinstance(checked, Response):
        return checked
    return describe(checked.settings, checked.levels, request.app.state.speed.per_unit(), checked.frames)


@router.get("/api/runs")
def list_runs(request: Request) -> list[dict[str, Any]]:
    return [public(r) for r in request.app.state.store.list()]


def public(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the page sees it: without the server's traceback."""
    return {k: v for k, v in run.items() if k != "traceback"}


def find(request: Request, run_id: str) -> dict[str, Any] | None:
    return request.app.state.store.get(run_id) if RUN_ID.match(run_id) else None


@router.get("/api/runs/{run_id}", response_model=None)
def get_run(request: Request, run_id: str) -> dict[str, Any] | Response:
    run = find(request, run_id)
    return public(run) if run else error(404, "no such run")


@router.post("/api/runs/{run_id}/cancel", response_model=None)
def cancel(request: Request, run_id: str) -> dict[str, Any] | Response:
    run = find(request, run_id)
    if run is None:
        return error(404, "no such run")
    if run["status"] not in ("queued", "running"):
        return error(409, f"run is {run['status']}, not queued or running")
    request.app.state.jobs.cancel(run_id)
    return {"id": run_id, "cancelling": True}


@router.delete("/api/runs/{run_id}", response_model=None)
def delete(request: Request, run_id: str) -> dict[str, Any] | Response:
    run = find(request, run_id)
    if run is None:
        return error(404, "no such run")
    if run["status"] in ("queued", "running"):
        return error(409, "cancel the run before deleting it")
    request.app.state.store.delete(run_id)
    video = run.get("video")
    for name in {run.get("result"), run.get("frame"), video, video and Path(video).with_suffix(".json").name} - {None}:
        (request.app.state.data_dir / "runs" / name).unlink(missing_ok=True)
    shutil.rmtree(request.app.state.data_dir / "runs" / f"{run_id}_frames", ignore_errors=True)
    return {"id": run_id, "deleted": True}


def run_file(request: Request, run_id: str, which: str) -> Path | None:
    run = find(request, run_id)
    name = run.get(which) if run else None
    path = request.app.state.data_dir / "runs" / name if name else None
    return path if path is not None and path.is_file() else None


@router.get("/api/runs/{run_id}/image", response_model=None)
def result_image(request: Request, run_id: str) -> Response:
    path = run_file(request, run_id, "result")
    return FileResponse(path, filename=f"stylo-{run_id[:8]}.png") if path else error(404, "no result yet")


@router.get("/api/runs/{run_id}/video", response_model=None)
def result_video(request: Request, run_id: str) -> Response:
    path = run_file(request, run_id, "video")
    return FileResponse(path, media_type="video/mp4", filename=f"stylo-{run_id[:8]}.mp4") if path else \
        error(404, "no video for this run")


@router.get("/api/runs/{run_id}/frame", response_model=None)
def frame_image(request: Request, run_id: str) -> Response:
    path = run_file(request, run_id, "frame")
    return FileResponse(path, headers={"Cache-Control": "no-store"}) if path else error(404, "no frame yet")
