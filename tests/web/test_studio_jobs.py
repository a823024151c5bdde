"""The studio runs the same jobs as the CLI (stylo.jobs): a clip run goes through the clip path of ``stylo video``,
its frames carry their manifests, and the job's events become the page's JSON events. On the tiny backbone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from stylo.cli import main
from stylo.image import read_manifest

from ..conftest import require
from .conftest import TINY, upload, wait_done
from .test_api import tiny_clip


def clip_run(client: TestClient, small_images: Any, tmp_path: Path, monkeypatch: Any, frames: int = 3
             ) -> tuple[dict[str, Any], list[dict[str, Any]], Path]:
    """A clip run of ``frames`` frames, with every event the studio published for it."""
    require("av")
    require("cv2")
    bus = client.app.state.events  # type: ignore[attr-defined]
    published: list[dict[str, Any]] = []
    real = bus.publish
    monkeypatch.setattr(bus, "publish", lambda run_id, event: (published.append(event), real(run_id, event)))
    with tiny_clip(tmp_path / "c.mp4", frames=frames).open("rb") as fh:
        up = client.post("/api/clips", files={"file": ("c.mp4", fh, "video/mp4")}).json()
    style = upload(client, small_images[1])
    settings = {**TINY, "steps": 2, "coarse_steps": 2, "scales": 2}
    res = client.post("/api/runs", json={"content": up["id"], "style": style, "clip": up["clip"],
                                         "settings": settings, "content_label": "holiday", "style_label": "starry"})
    assert res.status_code == 201, res.text
    run = wait_done(client, res.json()["id"])
    data = Path(client.app.state.store.path).parent  # type: ignore[attr-defined]
    return run, published, data


def test_a_studio_clip_makes_the_frames_of_the_cli(client: TestClient, small_images, tmp_path: Path, monkeypatch,
                                                   tiny_everywhere) -> None:
    run, _, data = clip_run(client, small_images, tmp_path, monkeypatch)
    assert run["status"] == "done", run
    studio = sorted((data / "runs" / f"{run['id']}_frames").glob("*.png"))
    assert len(studio) == 3
    manifest = read_manifest(studio[0])
    assert manifest["content"] == "holiday" and manifest["styles"] == ["starry"] and manifest["frame"] == 0
    assert manifest["seed"] == run["settings"]["seed"] == 1
    assert read_manifest(data / "runs" / run["result"])["frame"] == 0  # the poster is the first frame, manifest too
    sidecar = (data / "runs" / f"{run['id']}.json")
    assert sidecar.is_file() and '"fps": "8"' in sidecar.read_text()
    # the CLI, repeating the studio's clip from a frame's manifest, computes the same frames
    clip = data / "uploads" / "clips" / run["clip"]
    style = data / "uploads" / run["style"]
    out = tmp_path / "cli"
    assert main(["video", str(clip), str(style), "-o", str(out), "--config-from", str(studio[1]), "--quiet"]) == 0
    cli = sorted(out.glob("*.png"))
    assert len(cli) == 3
    for mine, theirs in zip(studio, cli, strict=True):
        assert np.array_equal(np.asarray(Image.open(mine)), np.asarray(Image.open(theirs)))
    assert client.delete(f"/api/runs/{run['id']}").status_code == 200
    assert not sidecar.exists() and not (data / "runs" / f"{run['id']}_frames").exists()


def test_a_studio_clips_events_are_its_jobs_events(client: TestClient, small_images, tmp_path: Path, monkeypatch,
                                                   tiny_everywhere) -> None:
    run, published, _ = clip_run(client, small_images, tmp_path, monkeypatch)
    assert run["status"] == "done", run
    kinds = [e["type"] for e in published]
    assert kinds == ["start", "preview", "step", "step", "step", "step", "frame", "frame", "frame", "saving", "end"]
    steps = [e for e in published if e["type"] == "step"]  # the first frame's steps only, as frame 1 of 3
    assert [(e["step"], e["total"], e["index"], e["frames"]) for e in steps] == [(i, 4, 0, 3) for i in (1, 2, 3, 4)]
    frames = [e for e in published if e["type"] == "frame"]
    assert [(e["index"], e["total"]) for e in frames] == [(1, 3), (2, 3), (3, 3)]
    assert all(e["eta"] is not None and e["eta"] >= 0 for e in frames) and frames[-1]["eta"] == 0
    assert published[-2] == {"type": "saving", "what": "video"} and published[-1]["status"] == "done"
