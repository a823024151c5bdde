from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from stylo.image import read_manifest
from stylo.web.app import create_app
from stylo.web.state import Limits

from ..conftest import require
from .conftest import TINY, upload, wait_done


def test_health_page_samples(client: TestClient) -> None:
    assert client.get("/api/health").json()["ok"] is True
    page = client.get("/")
    assert page.status_code == 200 and "stylo" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    names = [s["name"] for s in client.get("/api/samples").json()]
    assert "tubingen.jpg" in names and "starry_night.jpg" in names and not any("mask" in n for n in names)
    assert client.get("/api/samples/tubingen.jpg").status_code == 200
    assert client.get("/api/samples/..%2Fcli.py").status_code == 404
    res = client.post("/api/uploads/sample", json={"name": "starry_night.jpg"})
    assert res.status_code == 201 and res.json()["width"] == 512
    assert client.post("/api/uploads/sample", json={"name": "../../etc/passwd"}).status_code == 404


def test_run_lifecycle_events_download_and_gallery(client: TestClient, small_images) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    res = client.post("/api/runs", json={"content": content, "style": style, "settings": TINY,
                                         "content_label": "tubingen", "style_label": "starry"})
    assert res.status_code == 201
    run_id = res.json()["id"]
    run = wait_done(client, run_id)
    assert run["status"] == "done" and run["step"] == 2 and run["metrics"]["ssim"] < 1
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        first = json.loads(next(stream.iter_lines()).removeprefix("data: "))
    assert first["type"] == "snapshot" and first["status"] == "done"
    image = client.get(f"/api/runs/{run_id}/image")
    assert image.status_code == 200 and "attachment" in image.headers["content-disposition"]
    path = Path(client.app.state.store.path).parent / "runs" / run["result"]  # type: ignore[attr-defined]
    assert read_manifest(path)["settings"]["size"] == 48
    assert client.get(f"/api/runs/{run_id}/frame").status_code == 200
    assert [r["id"] for r in client.get("/api/runs").json()] == [run_id]
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_live_events_stream_steps_then_end(client: TestClient, small_images) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    run_id = client.post("/api/runs", json={"content": content, "style": style,
                                            "settings": {**TINY, "steps": 30, "size": 64}}).json()["id"]
    types = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                types.append(event["type"])
                if event["type"] == "end":
                    break
    assert types[0] == "snapshot" and types.count("step") >= 1 and types[-1] == "end"


def test_the_starting_picture_is_shown_before_the_first_step(client: TestClient, small_images, monkeypatch) -> None:
    bus = client.app.state.events  # type: ignore[attr-defined]
    runs_dir = Path(client.app.state.store.path).parent / "runs"  # type: ignore[attr-defined]
    seen: list[tuple[str, bool]] = []
    real = bus.publish

    def record(run_id: str, event: dict) -> None:
        frame = event.get("frame")
        seen.append((event["type"], bool(frame) and (runs_dir / frame).is_file()))
        real(run_id, event)

    monkeypatch.setattr(bus, "publish", record)
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    run_id = client.post("/api/runs", json={"content": content, "style": style,
                                            "settings": {**TINY, "init": "feedforward"}}).json()["id"]
    assert wait_done(client, run_id)["status"] == "done"
    kinds = [kind for kind, _ in seen]
    assert kinds[:3] == ["start", "preview", "step"] and kinds[-1] == "end"
    assert seen[1][1]  # the preview's frame file was written before the event went out


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"hello, not an image", 400, "not a readable image"),
        (b"", 400, "empty"),
    ],
)
def test_bad_uploads(client: TestClient, payload: bytes, status: int, message: str) -> None:
    res = client.post("/api/uploads", files={"file": ("x.png", payload, "image/png")})
    assert res.status_code == status and message in res.json()["error"]
    assert "/tmp" not in res.json()["error"]


def test_bomb_truncated_tiny_and_oversized_uploads(client: TestClient, tmp_path: Path, monkeypatch) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (9000, 8000)).save(bomb)
    res = client.post("/api/uploads", files={"file": ("b.png", bomb.read_bytes(), "image/png")})
    assert res.status_code == 400 and "too large" in res.json()["error"]
    full = tmp_path / "full.jpg"
    Image.new("RGB", (64, 64), (9, 90, 9)).save(full)
    res = client.post("/api/uploads", files={"file": ("t.jpg", full.read_bytes()[:300], "image/jpeg")})
    assert res.status_code == 400 and "truncated" in res.json()["error"]
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4)).save(tiny)
    res = client.post("/api/uploads", files={"file": ("t.png", tiny.read_bytes(), "image/png")})
    assert res.status_code == 400 and "too small" in res.json()["error"]
    client.app.state.limits = Limits(max_upload_bytes=100)
    res = client.post("/api/uploads", files={"file": ("f.jpg", full.read_bytes(), "image/jpeg")})
    assert res.status_code == 413


def test_oversized_body_is_refused_from_its_length(client: TestClient) -> None:
    res = client.post("/api/uploads", content=b"x" * 10, headers={"content-length": str(200 * 2**20),
                                                                   "content-type": "multipart/form-data"})
    assert res.status_code == 413 and res.json()["error"].startswith("request body is larger than")


def test_bad_run_requests(client: TestClient, small_images) -> None:
    from stylo.web.state import Limits

    client.app.state.limits = Limits(max_memory="3G")  # sizes up to 2497 px
    content = upload(client, small_images[0])
    cases = [
        ({"content": "../../etc/passwd", "style": content}, "content must be the id of an upload"),
        ({"content": content, "style": "0" * 32 + ".png"}, "style must be the id of an upload"),
        ({"content": content, "style": content, "settings": {"steps": 0}}, "Steps must be"),
        ({"content": content, "style": content, "settings": {"bogus": 1}}, "unknown setting 'bogus'"),
        ({"content": content, "style": content, "settings": {"size": 3000}}, "allows sizes up to 2497 px"),
        ({"content": content, "style": content, "settings": "fast"}, "settings must be an object"),
    ]
    for body, message in cases:
        res = client.post("/api/runs", json=body)
        assert res.status_code == 400 and message in res.json()["error"], (body, res.text)
    assert client.get("/api/runs/nonexistent").status_code == 404
    assert client.get("/api/uploads/..%2F..%2Fstudio.sqlite3").status_code == 404
    assert client.get("/api/runs/" + "0" * 32 + "/image").status_code == 404


def test_cancel_a_running_run(client: TestClient, small_images) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    run_id = client.post("/api/runs", json={"content": content, "style": style,
                                            "settings": {**TINY, "steps": 2000, "size": 64}}).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/runs/{run_id}").json()["step"] < 1:
        assert time.monotonic() < deadline, "the run never reached its first step"
        time.sleep(0.05)
    assert client.post(f"/api/runs/{run_id}/cancel").json()["cancelling"] is True
    run = wait_done(client, run_id)
    assert run["status"] == "cancelled" and run["result"]


def test_twenty_concurrent_submissions_all_complete(client: TestClient, small_images) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    body = {"content": content, "style": style, "settings": {**TINY, "size": 32, "steps": 1}}
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: client.post("/api/runs", json=body), range(20)))
    assert all(r.status_code == 201 for r in responses)
    runs = [wait_done(client, r.json()["id"], timeout=300) for r in responses]
    assert [r["status"] for r in runs] == ["done"] * 20
    assert len(client.get("/api/runs").json()) == 20


def test_token_guards_every_request(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "d", token="s3cret")) as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/?token=s3cret").status_code == 200
        assert c.get("/api/runs").status_code == 200  # the cookie set by the visit above


def test_the_size_choice_follows_the_servers_memory_budget(client, small_images) -> None:
    from stylo.budget import budget_bytes, max_side
    from stylo.web.state import Limits

    client.app.state.limits = Limits(max_memory="3G")
    largest = client.get("/api/limits").json()["max_size"]
    assert largest == max_side(budget_bytes("3G")) > 2048  # tiled runs go beyond what fits at once
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    res = client.post("/api/runs", json={"content": content, "style": style, "settings": {"size": largest + 16}})
    assert res.status_code == 400 and f"up to {largest} px" in res.json()["error"]
    res = client.post("/api/runs", json={"content": content, "style": style, "settings": TINY})
    run = wait_done(client, res.json()["id"])
    assert run["status"] == "done" and run["settings"]["max_memory"] == "3G"  # the run got the server's budget


def tiny_clip(path: Path, frames: int = 4, side: int = 64) -> Path:
    from ..test_video import make_clip, pan

    make_clip(path, [f.resize((side, side * 3 // 4)) for f in pan(frames)], 8, audio=False)
    return path


def test_a_clip_runs_to_an_mp4_with_a_poster_in_the_gallery(client: TestClient, small_images, tmp_path: Path) -> None:
    require("av")
    clip = tiny_clip(tmp_path / "c.mp4")
    with clip.open("rb") as fh:
        res = client.post("/api/clips", files={"file": ("c.mp4", fh, "video/mp4")})
    assert res.status_code == 201, res.text
    up = res.json()
    assert up["frames"] == 4 and up["fps"] == "8" and client.get(up["url"]).status_code == 200  # the poster
    style = upload(client, small_images[1])
    settings = {**TINY, "size": 48}
    res = client.post("/api/runs", json={"content": up["id"], "style": style, "clip": up["clip"],
                                         "settings": settings})
    assert res.status_code == 201, res.text
    run = wait_done(client, res.json()["id"])
    assert run["status"] == "done" and run["total_steps"] == 4 and run["metrics"]["warping_error"] >= 0
    video = client.get(f"/api/runs/{run['id']}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    (tmp_path / "out.mp4").write_bytes(video.content)
    from stylo.video.io import read_clip

    assert len(read_clip(tmp_path / "out.mp4").frames) == 4
    listed = next(r for r in client.get("/api/runs").json() if r["id"] == run["id"])
    assert listed["clip"] == up["clip"] and client.get(f"/api/runs/{run['id']}/image").status_code == 200
    assert client.delete(f"/api/runs/{run['id']}").status_code == 200
    assert client.get(f"/api/runs/{run['id']}/video").status_code == 404


def test_clips_past_the_caps_are_refused(client: TestClient, tmp_path: Path) -> None:
    require("av")
    from stylo.web.state import Limits

    client.app.state.limits = Limits(max_clip_frames=3, max_clip_bytes=200_000)
    clip = tiny_clip(tmp_path / "c.mp4", frames=5)
    with clip.open("rb") as fh:
        res = client.post("/api/clips", files={"file": ("c.mp4", fh, "video/mp4")})
    assert res.status_code == 400 and "at most 3 frames" in res.json()["error"]
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 200_001)
    with big.open("rb") as fh:
        res = client.post("/api/clips", files={"file": ("big.mp4", fh, "video/mp4")})
    assert res.status_code == 413
    with (tmp_path / "bad.mp4").open("wb") as fh:
        fh.write(b"not a video")
    with (tmp_path / "bad.mp4").open("rb") as fh:
        res = client.post("/api/clips", files={"file": ("bad.mp4", fh, "video/mp4")})
    assert res.status_code == 400 and "error" in res.json()
    assert not list((client.app.state.data_dir / "uploads" / "clips").glob("*"))  # nothing half-kept
    res = client.post("/api/runs", json={"content": "0" * 32 + ".png", "style": "0" * 32 + ".png",
                                         "clip": "../../etc"})
    assert res.status_code == 400


def test_a_favicon_is_served(client: TestClient) -> None:
    assert 'rel="icon"' in client.get("/").text
    for path in ("/favicon.ico", "/static/favicon.svg"):
        res = client.get(path)
        assert res.status_code == 200 and res.headers["content-type"].startswith("image/svg+xml")
        assert res.text.startswith("<svg")


def test_the_plan_says_the_levels_steps_time_and_memory_before_start(client: TestClient, small_images) -> None:
    skipped = client.post("/api/plan", json={"settings": {"size": 256, "scales": 2}}).json()
    # the 128 px level is below the coarsest kept (256 px): one level runs, with the skipped level's steps
    assert skipped["asked_levels"] == 2 and [lv["width"] for lv in skipped["levels"]] == [256]
    assert skipped["total_steps"] == 6 + 12 and skipped["levels"][0]["height"] == 192  # a 4:3 photo
    two = client.post("/api/plan", json={"settings": {"size": 512, "scales": 2}}).json()
    assert [(lv["width"], lv["steps"]) for lv in two["levels"]] == [(256, 12), (512, 6)]
    big = client.post("/api/plan", json={"settings": {"size": 1024, "scales": 2}}).json()
    assert 0 < skipped["seconds"] < two["seconds"] < big["seconds"] and two["bytes"] < big["bytes"]
    bad = client.post("/api/plan", json={"settings": {"scales": 99}})
    assert bad.status_code == 400 and "Levels must be" in bad.json()["error"]
    content = upload(client, small_images[0])  # with a photo: its own shape, and the run counts the same steps
    settings = {**TINY, "steps": 2, "coarse_steps": 1, "scales": 2, "size": 48}
    planned = client.post("/api/plan", json={"content": content, "settings": settings}).json()
    run = client.post("/api/runs", json={"content": content, "style": content, "settings": settings}).json()
    assert wait_done(client, run["id"])["total_steps"] == planned["total_steps"] == 3


def test_the_last_step_is_followed_by_a_saving_phase(client: TestClient, small_images) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    run_id = client.post("/api/runs", json={"content": content, "style": style, "settings": TINY}).json()["id"]
    events = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == "end":
                    break
    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["saving", "end"] and kinds[-3] == "step" and events[-3]["step"] == events[-3]["total"]


def test_a_clip_keeps_its_own_size_unless_asked(client: TestClient, small_images, tmp_path: Path) -> None:
    require("av")
    with tiny_clip(tmp_path / "c.mp4", frames=2, side=64).open("rb") as fh:
        up = client.post("/api/clips", files={"file": ("c.mp4", fh, "video/mp4")}).json()
    settings = {k: v for k, v in TINY.items() if k != "size"}
    run = client.post("/api/runs", json={"content": up["id"], "style": up["id"], "clip": up["clip"],
                                         "settings": settings}).json()
    assert run["settings"]["size"] == 64  # not the default 512: a 64×48 clip is not upscaled 8×
    client.post(f"/api/runs/{run['id']}/cancel")
    wait_done(client, run["id"])


def test_a_clips_time_left_comes_from_its_later_frames() -> None:
    from stylo.config import Settings
    from stylo.web.jobs import ClipClock
    from stylo.web.plan import Level, Speed

    speed = Speed()
    speed.seen = [1.0]  # s per megapixel-step
    levels = [Level(256, 192, 12, 1.0, 0), Level(512, 384, 6, 1.0, 0)]
    clock = ClipClock(speed, Settings(steps=6), levels, frames=8)
    guess = 6 * 512 * 384 / 1e6 + 1.0  # a later frame: 6 full-size steps plus the flow
    assert clock.eta(0) is None and clock.eta(0, first_left=10.0) == pytest.approx(10 + 7 * guess)
    clock.frame_done(0, 30.0)  # the first frame ran every level: it calibrates the speed, no more
    work = (12 * 256 * 192 + 6 * 512 * 384) / 1e6
    per_unit = (1.0 + (30.0 - 2.0) / work) / 2  # the median of the two timings
    assert clock.eta(1) == pytest.approx(7 * (6 * 512 * 384 / 1e6 * per_unit + 1.0))
    clock.frame_done(1, 4.0)
    clock.frame_done(2, 6.0)
    assert clock.eta(3) == pytest.approx(5 * 5.0)
