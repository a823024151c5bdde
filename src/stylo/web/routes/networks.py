"""Learned styles: learn a network for a style upload (queued like a run), list, read, cancel, resume and delete
trainings, and queue a run painted by a learned network. Trainings run as :class:`~stylo.jobs.LearnJob` s
(:mod:`stylo.web.learning`); their events stream from ``/api/networks/ID/events`` (:mod:`.events`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stylo.config import WEB_FIELDS, Settings
from stylo.errors import StyloError
from stylo.settings_io import from_mapping
from stylo.web.netdb import checkpoint_of, network_path, public_network
from stylo.web.plan import check_learnable
from stylo.web.state import RUN_ID, UPLOAD_NAME, Limits, clean_label, error

router = APIRouter()
LEARN_FIELDS = ("steps", "crop")  # what the page may set of stylo.learn.LearnSettings


def learn_settings(raw: Any, s: Settings, limits: Limits) -> dict[str, Any]:
    """The training's own settings from the page (``steps``, ``crop``: whole numbers within the studio's caps),
    as :class:`~stylo.learn.train.LearnSettings`'s dict; a one-line :class:`StyloError` otherwise."""
    from stylo.learn.train import LearnSettings

    if not isinstance(raw, dict):
        raise StyloError("learn must be an object")
    for key in raw:
        if key not in LEARN_FIELDS:
            raise StyloError(f"unknown learn setting {str(key)[:40]!r} (the page sets {', '.join(LEARN_FIELDS)})")
    bounds = {"steps": (1, limits.max_learn_steps), "crop": (16, min(limits.max_crop, s.size))}
    for key, value in raw.items():
        low, high = bounds[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            name = "Training steps" if key == "steps" else "Crop"
            raise StyloError(f"{name} must be a whole number from {low} to {high}, got {str(value)[:20]}")
    return LearnSettings(**raw).to_dict()


def find(request: Request, network_id: str) -> dict[str, Any] | None:
    return request.app.state.networks.get(network_id) if RUN_ID.match(network_id) else None


def usable(request: Request, value: Any) -> tuple[dict[str, Any], Path] | Response:
    """The learned network that ``value`` names and its file, or the error: not an id (400), no such network
    (404: a run's id is not a network's), or one with nothing to paint with yet (409)."""
    if not isinstance(value, str) or not RUN_ID.match(value):
        return error(400, "network must be the id of a learned style")
    network = request.app.state.networks.get(value)
    if network is None:
        return error(404, "no such learned style")
    if not public_network(network, request.app.state.data_dir)["usable"]:
        return error(409, f"that learned style is {network['status']}: it has no network to paint with")
    return network, network_path(request.app.state.data_dir, value)


@router.post("/api/networks", status_code=201, response_model=None)
def create_network(request: Request, body: dict[str, Any]) -> dict[str, Any] | Response:
    """Learn a network for the style upload ``style`` with the objective of ``settings`` and the ``learn``
    settings (steps, crop); queued like a run."""
    state = request.app.state
    limits: Limits = state.limits
    style = str(body.get("style", ""))
    if not UPLOAD_NAME.match(style) or not (state.data_dir / "uploads" / style).is_file():
        return error(400, "style must be the id of an upload")
    raw = body.get("settings") or {}
    if not isinstance(raw, dict):
        return error(400, "settings must be an object")
    s = from_mapping(raw, source="the studio", allowed=WEB_FIELDS)
    if s.size > limits.max_size:
        return error(400, f"Size: this studio allows sizes up to {limits.max_size} px")
    s = s.replace(max_memory=limits.max_memory)
    learn = learn_settings(body.get("learn") or {}, s, limits)
    check_learnable(s, learn["crop"])
    network_id = uuid.uuid4().hex
    label = clean_label(body.get("style_label"), "style", limits.max_label)
    network = state.networks.create(network_id, style, label, s.to_dict(), learn, max_active=limits.max_queued)
    if network is None:
        return error(429, f"{limits.max_queued} runs are already waiting; try again when one has finished")
    state.jobs.submit_learn(network_id)
    return public_network(network, state.data_dir)


@router.get("/api/networks")
def list_networks(request: Request) -> list[dict[str, Any]]:
    """Every training, newest first; ``usable`` ones can paint, ``resumable`` ones can be resumed."""
    return [public_network(n, request.app.state.data_dir) for n in request.app.state.networks.list()]


@router.get("/api/networks/{network_id}", response_model=None)
def get_network(request: Request, network_id: str) -> dict[str, Any] | Response:
    network = find(request, network_id)
    return public_network(network, request.app.state.data_dir) if network else error(404, "no such learned style")


@router.post("/api/networks/{network_id}/cancel", response_model=None)
def cancel(request: Request, network_id: str) -> dict[str, Any] | Response:
    """Stop a training: the network so far and a checkpoint are written, and it can be resumed."""
    network = find(request, network_id)
    if network is None:
        return error(404, "no such learned style")
    if network["status"] not in ("queued", "running"):
        return error(409, f"the training is {network['status']}, not queued or running")
    request.app.state.jobs.cancel(network_id)
    return {"id": network_id, "cancelling": True}


@router.post("/api/networks/{network_id}/resume", response_model=None)
def resume(request: Request, network_id: str) -> dict[str, Any] | Response:
    """Queue a stopped training again: it continues from its checkpoint's step, with the same settings."""
    state = request.app.state
    network = find(request, network_id)
    if network is None:
        return error(404, "no such learned style")
    if not public_network(network, state.data_dir)["resumable"]:
        return error(409, f"the training is {network['status']}: there is no checkpoint to resume")
    if not state.networks.requeue(network_id, max_active=state.limits.max_queued):
        return error(429, f"{state.limits.max_queued} runs are already waiting; try again when one has finished")
    state.jobs.submit_learn(network_id)
    return public_network(state.networks.get(network_id) or network, state.data_dir)


@router.delete("/api/networks/{network_id}", response_model=None)
def delete(request: Request, network_id: str) -> dict[str, Any] | Response:
    network = find(request, network_id)
    if network is None:
        return error(404, "no such learned style")
    if network["status"] in ("queued", "running"):
        return error(409, "cancel the training before deleting it")
    request.app.state.networks.delete(network_id)
    path = network_path(request.app.state.data_dir, network_id)
    for file in (path, checkpoint_of(path)):
        file.unlink(missing_ok=True)
    return {"id": network_id, "deleted": True}


def network_run(request: Request, body: dict[str, Any]) -> dict[str, Any] | Response:
    """A run painted by the learned network ``body["network"]`` (one pass, no refinement): the network's own
    settings with the page's size (:func:`stylo.learn.jobs.network_settings`), queued like every run."""
    from stylo.image import fit_long_side
    from stylo.learn.jobs import network_settings
    from stylo.networks.transform import MIN_SIDE
    from stylo.web.routes.runs import content_size

    state = request.app.state
    limits: Limits = state.limits
    found = usable(request, body.get("network"))
    if isinstance(found, Response):
        return found
    network, path = found
    content = str(body.get("content", ""))
    if not UPLOAD_NAME.match(content) or not (state.data_dir / "uploads" / content).is_file():
        return error(400, "content must be the id of an upload")
    if body.get("clip") is not None:
        return error(400, "a learned style paints photos here; for a clip use stylo video --network")
    raw = body.get("settings") or {}
    if not isinstance(raw, dict):
        return error(400, "settings must be an object")
    asked = from_mapping({k: v for k, v in raw.items() if k == "size"}, source="the studio", allowed=WEB_FIELDS)
    if asked.size > limits.max_size:
        return error(400, f"Size: this studio allows sizes up to {limits.max_size} px")
    s = network_settings(state.previews.network(path), {"size": asked.size} if "size" in raw else {}, "the studio")
    final = fit_long_side(content_size(state.data_dir / "uploads" / content), s.size)
    if min(final) < MIN_SIDE:
        return error(400, f"at Size {s.size} this photo would be {final[0]}×{final[1]} px: choose a larger Size")
    labels = (clean_label(body.get("content_label"), "content", limits.max_label),
              clean_label(f"{network['style_label']} (learned)", "learned style", limits.max_label))
    run_id = uuid.uuid4().hex
    run = state.store.create(run_id, s.to_dict(), content, network["style"], *labels, max_active=limits.max_queued,
                             network=network["id"])
    if run is None:
        return error(429, f"{limits.max_queued} runs are already waiting; try again when one has finished")
    state.jobs.submit(run_id)
    return run
