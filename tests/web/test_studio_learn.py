"""The studio's side of ``stylo learn`` (issue #24): learning a style from the page as a queued job (its steps
as events, Cancel leaving a checkpoint, Resume continuing from it), learned styles listed and painting runs in one
pass, and the live preview at a strength. On the tiny backbone (``tiny_everywhere``)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from stylo.image import fit_long_side, read_manifest
from stylo.learn.file import read

from .conftest import TINY, upload, wait_done

LEARN = {"steps": 3, "crop": 32}
OBJECTIVE = {"size": 64}


def data_dir(client: TestClient) -> Path:
    return client.app.state.data_dir  # type: ignore[attr-defined,no-any-return]


def published(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event the studio publishes from now on."""
    bus = client.app.state.events  # type: ignore[attr-defined]
    seen: list[dict[str, Any]] = []
    real = bus.publish
    monkeypatch.setattr(bus, "publish", lambda key, event: (seen.append({**event, "key": key}), real(key, event)))
    return seen


def wait_network(client: TestClient, network_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        network = client.get(f"/api/networks/{network_id}").json()
        if network["status"] not in ("queued", "running"):
            return network  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"training {network_id} did not finish")


def learn(client: TestClient, style: str, learn: dict[str, int] | None = None) -> dict[str, Any]:
    res = client.post("/api/networks", json={"style": style, "style_label": "starry", "settings": OBJECTIVE,
                                             "learn": learn or LEARN})
    assert res.status_code == 201, res.text
    return res.json()  # type: ignore[no-any-return]


def learned(client: TestClient, small_images: Any) -> dict[str, Any]:
    """A finished learned style (3 steps at 64 px) of the starry night."""
    network = wait_network(client, learn(client, upload(client, small_images[1]))["id"])
    assert network["status"] == "done", network
    return network


def one_line(res: Any, client: TestClient) -> str:
    message = res.json()["error"]
    assert isinstance(message, str) and "\n" not in message and "Traceback" not in message
    assert str(data_dir(client)) not in message and "/tmp" not in message and ".stylo.pt" not in message, message
    return message  # type: ignore[no-any-return]


def test_a_learned_style_is_queued_streamed_and_listed_with_its_network(client: TestClient, small_images, monkeypatch,
                                                                      tiny_everywhere) -> None:
    events = published(client, monkeypatch)
    queued = learn(client, upload(client, small_images[1]))
    assert queued["status"] == "queued" and queued["total_steps"] == 3 and not queued["usable"]
    network = wait_network(client, queued["id"])
    assert network["status"] == "done" and network["step"] == network["total_steps"] == 3, network
    assert network["usable"] and not network["resumable"] and network["style_label"] == "starry"
    listed = client.get("/api/networks").json()
    assert [(n["id"], n["usable"]) for n in listed] == [(network["id"], True)]
    path = data_dir(client) / "networks" / f"{network['id']}.stylo.pt"
    contents = read(path)  # a valid .stylo.pt: stylo's own reader takes it
    assert contents.steps_done == 3 and contents.settings["size"] == 64 and contents.learn["crop"] == 32
    mine = [e for e in events if e["key"] == network["id"]]
    assert [e["type"] for e in mine] == ["start", "learn", "learn", "learn", "end"]
    assert [(e["step"], e["total"]) for e in mine if e["type"] == "learn"] == [(1, 3), (2, 3), (3, 3)]
    assert mine[-2]["eta"] is not None and mine[-2]["eta"] == 0 and mine[-1]["usable"] is True
    with client.stream("GET", f"/api/networks/{network['id']}/events") as stream:
        import json

        first = json.loads(next(stream.iter_lines()).removeprefix("data: "))
    assert first["type"] == "snapshot" and first["status"] == "done" and first["step"] == 3


def test_cancel_leaves_a_checkpoint_and_resume_continues_to_the_full_count(client: TestClient, small_images,
                                                                          monkeypatch, tiny_everywhere) -> None:
    events = published(client, monkeypatch)
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    real = jobs.events.publish

    def cancel_at_step_two(key: str, event: dict[str, Any]) -> None:
        real(key, event)
        if event.get("type") == "learn" and event["step"] == 2 and not event.get("resumed"):
            client.post(f"/api/networks/{key}/cancel")  # Cancel, as the page sends it, during step 2's event

    monkeypatch.setattr(jobs.events, "publish", cancel_at_step_two)
    network = learn(client, upload(client, small_images[1]), {"steps": 5, "crop": 32})
    stopped = wait_network(client, network["id"])
    path = data_dir(client) / "networks" / f"{network['id']}.stylo.pt"
    checkpoint = path.with_name(path.name + ".checkpoint")
    assert stopped["status"] == "interrupted" and stopped["step"] == 2 and stopped["total_steps"] == 5, stopped
    assert stopped["usable"] and stopped["resumable"]
    assert read(checkpoint).steps_done == 2 and read(path).steps_done == 2  # the network so far, and its checkpoint
    assert client.post(f"/api/networks/{network['id']}/cancel").status_code == 409  # nothing is running
    monkeypatch.setattr(jobs.events, "publish", real)
    events.clear()
    resumed = client.post(f"/api/networks/{network['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    done = wait_network(client, network["id"])
    assert done["status"] == "done" and done["step"] == 5 and not done["resumable"], done
    steps = [e["step"] for e in events if e["key"] == network["id"] and e["type"] == "learn"]
    assert steps == [3, 4, 5]  # continued from the checkpoint's step, not from the start
    assert events[0]["type"] == "start" and events[0]["resume"] is True
    assert read(path).steps_done == 5 and not checkpoint.exists()
    assert len(done["history"]) == 5  # the loss of every step, both sessions
    assert client.post(f"/api/networks/{network['id']}/resume").status_code == 409  # finished: nothing to resume


def test_a_learned_style_run_paints_in_one_pass_into_the_gallery(client: TestClient, small_images,
                                                                tiny_everywhere) -> None:
    network = learned(client, small_images)
    content = upload(client, small_images[0])
    res = client.post("/api/runs", json={"content": content, "network": network["id"], "content_label": "tubingen",
                                         "settings": {"size": 80}})
    assert res.status_code == 201, res.text
    run = wait_done(client, res.json()["id"])
    assert run["status"] == "done" and run["network"] == network["id"] and run["style_label"] == "starry (learned)"
    image = client.get(f"/api/runs/{run['id']}/image")
    assert image.status_code == 200
    painted = Image.open(io.BytesIO(image.content))
    assert painted.size == fit_long_side(Image.open(small_images[0]).size, 80)
    manifest = read_manifest(data_dir(client) / "runs" / run["result"])
    assert manifest["refine_steps"] == 0 and manifest["settings"]["size"] == 80
    assert [r["id"] for r in client.get("/api/runs").json()] == [run["id"]]  # in the gallery like any run
    # the network's picture, exactly: what Network paints at that size
    from stylo.image import resize
    from stylo.learn.network import Network

    net = Network.load(data_dir(client) / "networks" / f"{network['id']}.stylo.pt")
    photo = resize(Image.open(small_images[0]).convert("RGB"), painted.size, "lanczos")
    assert np.array_equal(np.asarray(painted.convert("RGB")), np.asarray(net(photo)))


def preview_image(client: TestClient, content: str, network: str, strength: float) -> Image.Image:
    res = client.post("/api/preview", json={"content": content, "network": network, "strength": strength})
    assert res.status_code == 200 and res.headers["content-type"] == "image/png", res.text
    return Image.open(io.BytesIO(res.content)).convert("RGB")


def test_the_live_preview_is_a_png_of_the_photos_aspect_and_its_strength_moves_it(client: TestClient, small_images,
                                                                                  monkeypatch,
                                                                                  tiny_everywhere) -> None:
    from stylo.learn import network as network_module

    network = learned(client, small_images)
    content = client.post("/api/uploads/sample", json={"name": "tubingen.jpg"}).json()
    loads: list[object] = []
    real_load = network_module.Network.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(network_module.Network, "load",
                        classmethod(lambda cls, *a, **k: (loads.append(a), real_load(cls, *a, **k))[1]))
    full, none = (preview_image(client, content["id"], network["id"], s) for s in (1.0, 0.0))
    side = client.app.state.limits.preview_side  # type: ignore[attr-defined]
    assert full.size == none.size == fit_long_side((content["width"], content["height"]), side) == (384, 288)
    photo = Image.open(data_dir(client) / "uploads" / content["id"]).convert("RGB").resize(full.size)

    def distance(a: Image.Image, b: Image.Image) -> float:
        return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())

    assert distance(full, none) > 1.0  # strength 0 and 1 differ
    assert distance(none, photo) < distance(full, photo)  # 0 is closer to the photo
    assert len(loads) == 1  # the network was loaded once and kept
    small = preview_image(client, upload(client, small_images[0]), network["id"], 0.5)
    assert small.size == Image.open(small_images[0]).size  # a small photo is not enlarged


def test_bad_learned_style_requests_get_one_line_without_server_paths(client: TestClient, small_images,
                                                                     tiny_everywhere) -> None:
    network = learned(client, small_images)
    content = upload(client, small_images[0])
    run = client.post("/api/runs", json={"content": content, "style": content, "settings": TINY}).json()
    wait_done(client, run["id"])
    unknown, path_like = "0" * 32, "../../studio.sqlite3"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/api/preview", {"content": content, "network": unknown, "strength": 1}, 404, "no such learned style"),
        ("/api/preview", {"content": content, "network": run["id"], "strength": 1}, 404, "no such learned style"),
        ("/api/preview", {"content": content, "network": path_like, "strength": 1}, 400, "id of a learned style"),
        ("/api/preview", {"content": content, "network": network["id"], "strength": 1.5}, 400, "from 0 to 1"),
        ("/api/preview", {"content": content, "network": network["id"], "strength": -0.1}, 400, "from 0 to 1"),
        ("/api/preview", {"content": content, "network": network["id"], "strength": "1"}, 400, "from 0 to 1"),
        ("/api/preview", {"content": content, "network": network["id"], "strength": True}, 400, "from 0 to 1"),
        ("/api/preview", {"content": path_like, "network": network["id"], "strength": 1}, 400, "id of an upload"),
        ("/api/runs", {"content": content, "network": unknown}, 404, "no such learned style"),
        ("/api/runs", {"content": content, "network": run["id"]}, 404, "no such learned style"),
        ("/api/runs", {"content": content, "network": path_like}, 400, "id of a learned style"),
        ("/api/runs", {"content": path_like, "network": network["id"]}, 400, "id of an upload"),
        ("/api/runs", {"content": content, "network": network["id"], "settings": {"size": 9000}}, 400, "sizes up to"),
        ("/api/networks", {"style": path_like, "learn": LEARN}, 400, "style must be the id of an upload"),
        ("/api/networks", {"style": content, "learn": {"steps": 0}}, 400, "Training steps must be"),
        ("/api/networks", {"style": content, "learn": {"steps": True}}, 400, "Training steps must be"),
        ("/api/networks", {"style": content, "learn": {"crop": 8}, "settings": OBJECTIVE}, 400, "Crop must be"),
        ("/api/networks", {"style": content, "learn": {"crop": 128}, "settings": OBJECTIVE}, 400, "from 16 to 64"),
        ("/api/networks", {"style": content, "learn": {"lr": 1}}, 400, "unknown learn setting 'lr'"),
        ("/api/networks", {"style": content, "settings": {"device": "/dev/null"}}, 400, "cannot be set"),
        (f"/api/networks/{run['id']}/resume", {}, 404, "no such learned style"),
        (f"/api/networks/{network['id']}/resume", {}, 409, "no checkpoint to resume"),
        (f"/api/networks/{unknown}/cancel", {}, 404, "no such learned style"),
    ]
    for url, body, status, words in cases:
        res = client.post(url, json=body)
        assert res.status_code == status and words in one_line(res, client), (url, body, res.text)
    for url in (f"/api/networks/{run['id']}", f"/api/networks/{unknown}", "/api/networks/..studio.sqlite3",
                "/api/networks/..%2F..%2Fstudio.sqlite3", f"/api/networks/{run['id']}/events"):
        res = client.get(url)
        assert res.status_code == 404 and one_line(res, client) in ("no such learned style", "Not Found"), url
    assert [n["id"] for n in client.get("/api/networks").json()] == [network["id"]]  # nothing bad was queued


def test_a_network_that_is_not_a_regular_file_is_never_opened(client: TestClient, small_images,
                                                              tiny_everywhere) -> None:
    network = learned(client, small_images)
    content = upload(client, small_images[0])
    path = data_dir(client) / "networks" / f"{network['id']}.stylo.pt"
    path.unlink()
    os.mkfifo(path)  # opening it would block the server
    listed = client.get(f"/api/networks/{network['id']}").json()
    assert not listed["usable"]
    for url in ("/api/preview", "/api/runs"):
        res = client.post(url, json={"content": content, "network": network["id"], "strength": 1})
        assert res.status_code == 409 and "no network to paint with" in one_line(res, client)


def test_a_training_still_learning_cannot_paint_and_is_cancelled_before_it_starts(client: TestClient, small_images,
                                                                                 tiny_everywhere) -> None:
    content, style = upload(client, small_images[0]), upload(client, small_images[1])
    long_run = client.post("/api/runs", json={"content": content, "style": style,
                                              "settings": {**TINY, "steps": 2000, "size": 64}}).json()
    network = learn(client, style)  # queued behind the run
    with client.stream("GET", f"/api/networks/{network['id']}/events") as stream:
        import json

        first = json.loads(next(stream.iter_lines()).removeprefix("data: "))
    assert first["type"] == "snapshot" and first["status"] == "queued" and first["ahead"] == 1
    res = client.post("/api/preview", json={"content": content, "network": network["id"], "strength": 1})
    assert res.status_code == 409 and "is queued" in one_line(res, client)
    assert client.delete(f"/api/networks/{network['id']}").status_code == 409
    assert client.post(f"/api/networks/{network['id']}/cancel").status_code == 200
    client.post(f"/api/runs/{long_run['id']}/cancel")
    stopped = wait_network(client, network["id"])
    assert stopped["status"] == "cancelled" and not stopped["usable"] and not stopped["resumable"]
    assert client.delete(f"/api/networks/{network['id']}").json()["deleted"] is True
    assert client.get("/api/networks").json() == []
