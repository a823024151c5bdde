"""The studio's guards (issue: reliability and security), through the ASGI app."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stylo.web import routes
from stylo.web.app import create_app
from stylo.web.security import CSP
from stylo.web.state import Limits

from .conftest import TINY, upload, wait_done

STATIC = Path(routes.__file__).parents[1] / "static"


def test_labels_are_never_inserted_as_html() -> None:
    """Every dynamic text goes through textContent; the page has no inline script for a label to join."""
    for name in ("app.js", "index.html"):
        text = (STATIC / name).read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "outerHTML" not in text
    assert "<script>" not in (STATIC / "index.html").read_text()  # only <script src=...>


def test_every_response_forbids_inline_script(client: TestClient) -> None:
    for path in ("/", "/api/health", "/api/runs/nope"):
        res = client.get(path)
        assert res.headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert res.headers["x-frame-options"] == "DENY"


def test_a_hostile_label_is_stored_as_plain_text(client: TestClient, small_images) -> None:
    content = upload(client, small_images[0])
    hostile = '<img src=x onerror="alert(1)">\x00\x1b.png'
    res = client.post("/api/runs", json={"content": content, "style": content, "content_label": hostile,
                                         "style_label": "x" * 500, "settings": TINY})
    run = res.json()
    assert run["content_label"] == '<img src=x onerror="alert(1)">.png'  # control characters dropped
    assert len(run["style_label"]) == 80
    wait_done(client, run["id"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"style_size": 100000}, "style_size"),
     ({"style_scale": [20], "size": 2000}, "style_scale makes the style image"),
     ({"scales": 2000}, "Levels must be between 1 and 8"),
     ({"weights": "/etc/passwd"}, "setting 'weights' cannot be set from the studio"),
     ({"device": "cuda"}, "setting 'device' cannot be set from the studio"),
     ({"max_memory": "1T"}, "setting 'max_memory' cannot be set from the studio"),
     ({"style_layers": {"relu1_1": 1}}, "Style layers must be a list of layer names"),
     ({"style_blend": [{"a": 1}]}, "style_blend must be a number"),
     ({"seed": True}, "Seed must be an integer"),
     ({"size": [512]}, "Size must be an integer")],
)
def test_run_settings_are_bounded_and_typed(client: TestClient, small_images, settings: dict, message: str) -> None:
    content = upload(client, small_images[0])
    res = client.post("/api/runs", json={"content": content, "style": content, "settings": settings})
    assert res.status_code == 400 and message in res.json()["error"], res.text


def test_a_chunked_body_is_counted_as_it_streams(client: TestClient) -> None:
    client.app.state.limits = Limits()
    sent = [0]

    def body():
        for _ in range(40):  # 40 MB, with no Content-Length
            sent[0] += 1
            yield b"\0" * 2**20

    res = client.post("/api/uploads", content=body(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert res.status_code == 413 and "larger than 25 MB" in res.json()["error"]


@pytest.mark.parametrize(("host", "status"), [("attacker.example", 421), ("127.0.0.1:8000", 200),
                                              ("localhost", 200), ("[::1]:8000", 200), ("evil.localhost", 421),
                                              ("[::1]", 200), ("LOCALHOST:8000", 200), ("[0:0::1]:80", 200),
                                              ("[::1].evil.com", 421), ("[::1]evil", 421),
                                              ("127.0.0.1:8766@evil.com", 421), ("127.0.0.1:80:80", 421),
                                              ("localhost:port", 421), ("localhost:", 421), ("[::1", 421),
                                              ("127.0.0.1 .evil.com", 421), ("", 421)])
def test_only_loopback_host_names_are_answered(client: TestClient, host: str, status: int) -> None:
    assert client.get("/api/health", headers={"host": host}).status_code == status


def test_host_and_token_widen_the_host_list(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "a", host="192.168.1.5"), base_url="http://192.168.1.5") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "attacker.example"}).status_code == 421
    with TestClient(create_app(tmp_path / "b", token="t"), base_url="http://studio.example") as c:
        assert c.get("/api/health?token=t").status_code == 200


@pytest.mark.parametrize("token", ["päss", "s3cret", "日本"])
def test_tokens_are_compared_as_bytes(tmp_path: Path, token: str) -> None:
    with TestClient(create_app(tmp_path / "d", token=token), base_url="http://127.0.0.1") as c:
        assert c.get("/api/health", params={"token": "é"}).status_code == 401
        assert c.get("/api/health", headers={"authorization": "Bearer é".encode()}).status_code == 401
        assert c.get("/api/health").status_code == 401
        res = c.get("/", params={"token": token})
        assert res.status_code == 200 and "stylo_token" in res.headers["set-cookie"]
        assert c.get("/api/health").status_code == 200  # the cookie carries the session
        assert c.get("/api/health", headers={"authorization": f"Bearer {token}".encode()}).status_code == 200


def test_cross_site_posts_are_refused(client: TestClient, small_images) -> None:
    with small_images[0].open("rb") as fh:
        res = client.post("/api/uploads", files={"file": ("a.png", fh, "image/png")},
                          headers={"origin": "http://evil.example"})
    assert res.status_code == 403
    res = client.post("/api/uploads/sample", json={"name": "tubingen.jpg"}, headers={"sec-fetch-site": "cross-site"})
    assert res.status_code == 403
    res = client.post("/api/uploads/sample", json={"name": "tubingen.jpg"}, headers={"origin": "http://127.0.0.1"})
    assert res.status_code == 201


def test_upload_storage_has_a_quota(client: TestClient, small_images, tmp_path: Path) -> None:
    first = upload(client, small_images[0])
    size = (client.app.state.data_dir / "uploads" / first).stat().st_size
    client.app.state.limits = Limits(upload_quota_bytes=int(size * 1.5))
    second = upload(client, small_images[0])  # the unused first upload is pruned to make room
    uploads = client.app.state.data_dir / "uploads"
    assert not (uploads / first).exists() and (uploads / second).exists()
    run = client.post("/api/runs", json={"content": second, "style": second, "settings": TINY}).json()
    wait_done(client, run["id"])
    with small_images[0].open("rb") as fh:  # the second is used by a run: nothing can be pruned
        res = client.post("/api/uploads", files={"file": ("a.png", fh, "image/png")})
    assert res.status_code == 400 and "storage is full" in res.json()["error"]


def test_uploads_are_decoded_off_the_event_loop(client: TestClient, small_images, monkeypatch) -> None:
    from stylo.web.routes import uploads

    seen: list[bool] = []
    real = uploads.decode_upload

    def spy(blob, limits):
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(blob, limits)

    monkeypatch.setattr(uploads, "decode_upload", spy)
    upload(client, small_images[0])
    assert seen == [False] and threading.current_thread() is threading.main_thread()


def test_validation_errors_use_the_error_key(client: TestClient) -> None:
    res = client.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422 and "error" in res.json() and "detail" not in res.json()
    res = client.post("/api/uploads", files={})
    assert res.status_code == 422 and res.json()["error"].startswith("bad request")


def test_the_queue_is_capped(client: TestClient, small_images) -> None:
    client.app.state.limits = Limits(max_queued=1)
    content = upload(client, small_images[0])
    first = client.post("/api/runs", json={"content": content, "style": content,
                                           "settings": {**TINY, "steps": 500, "size": 64}}).json()
    res = client.post("/api/runs", json={"content": content, "style": content, "settings": TINY})
    assert res.status_code == 429
    client.post(f"/api/runs/{first['id']}/cancel")
    wait_done(client, first["id"])


def test_tracebacks_stay_on_the_server(client: TestClient, small_images, monkeypatch) -> None:
    from stylo import render

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(render, "stylize_result", broken)
    content = upload(client, small_images[0])
    run = client.post("/api/runs", json={"content": content, "style": content, "settings": TINY}).json()
    done = wait_done(client, run["id"])
    assert done["status"] == "failed" and done["error"] == "internal error: ZeroDivisionError: boom"
    assert "traceback" not in done
    stored = client.app.state.store.get(run["id"])
    assert "Traceback (most recent call last)" in stored["traceback"] and "boom" in stored["traceback"]


