"""The studio as a real server process: restart survival, and a real browser (Debian's Chromium + Playwright)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import require

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data: Path):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "stylo", "serve", "--port", str(self.port),
                                      "--data-dir", str(self.data)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.get("/api/health")
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as res:
            return json.loads(res.read())

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(), {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data").start()
    yield s
    s.kill()


def test_restart_keeps_the_gallery_and_marks_the_running_run_interrupted(server: Server) -> None:
    content = server.post("/api/uploads/sample", {"name": "tubingen.jpg"})["id"]
    style = server.post("/api/uploads/sample", {"name": "starry_night.jpg"})["id"]
    settings = {"size": 128, "steps": 2000, "scales": 1, "seed": 0}
    run = server.post("/api/runs", {"content": content, "style": style, "settings": settings})
    deadline = time.monotonic() + 120
    while not server.get(f"/api/runs/{run['id']}")["step"] and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.2)  # past the first step (the preview frame comes before it)
    server.kill()
    server.start()
    runs = server.get("/api/runs")
    assert isinstance(runs, list) and len(runs) == 1
    assert runs[0]["status"] == "interrupted" and runs[0]["frame"] and runs[0]["step"] >= 1
    with urllib.request.urlopen(f"{server.url}/api/runs/{run['id']}/frame", timeout=10) as res:
        assert res.status == 200 and res.read(8) == b"\x89PNG\r\n\x1a\n"


def raw_request(server: Server, head: str, body_chunks: Iterator[bytes]) -> bytes:
    """Send a request over a plain socket (chunked bodies included); return what the server answered."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for chunk in body_chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed while the body was still coming
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:  # reset after the answer
            pass
        return data


def test_a_chunked_upload_is_refused_while_it_streams(server: Server) -> None:
    sent = [0]

    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        for _ in range(200):  # 200 MB with no Content-Length
            sent[0] += 1
            yield b"\0" * 2**20

    head = (f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n\r\n")
    answer = raw_request(server, head, chunks())
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than 25 MB" in answer
    assert sent[0] < 200  # refused long before the end: the body was not spooled whole


def test_idle_event_streams_do_not_starve_the_server(server: Server) -> None:
    content = server.post("/api/uploads/sample", {"name": "tubingen.jpg"})["id"]
    run = server.post("/api/runs", {"content": content, "style": content,
                                    "settings": {"size": 64, "steps": 2000, "scales": 1, "seed": 0}})
    streams = []
    try:
        for _ in range(45):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(f"GET /api/runs/{run['id']}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            streams.append(sock)
        statuses = [sock.recv(64).split(b" ")[1] for sock in streams]
        assert statuses.count(b"200") == 32 and statuses.count(b"503") == 13  # the cap
        start = time.monotonic()
        assert server.get("/api/health")["ok"]  # type: ignore[index]
        assert time.monotonic() - start < 2.0
    finally:
        for sock in streams:
            sock.close()
        server.post(f"/api/runs/{run['id']}/cancel", {})


def test_browser_uploads_runs_watches_and_sees_the_gallery(server: Server, small_images, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make test` installs it with apt-get")
        pytest.skip("no /usr/bin/chromium")
    sync_api = require("playwright.sync_api")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server.url)
        hostile = '<img src=x onerror="window.__xss=1">.png'  # a file name is a label: it must stay text
        page.set_input_files("[data-testid=content-file]", {"name": hostile, "mimeType": "image/png",
                                                            "buffer": small_images[0].read_bytes()})
        page.set_input_files("[data-testid=style-file]", str(small_images[1]))
        page.wait_for_function("() => !document.querySelector('#start').disabled")
        page.select_option("select[name=size]", "256")
        page.fill("input[name=steps]", "6")
        page.fill("input[name=scales]", "1")
        page.fill("input[name=seed]", "3")
        page.click("#start")
        page.wait_for_selector("#preview:not([hidden])", timeout=120_000)
        first = page.get_attribute("#preview", "src")
        page.wait_for_function(f"() => document.querySelector('#preview').src.indexOf({first!r}) < 0",
                               timeout=120_000)
        page.wait_for_selector("#download:not([hidden])", timeout=120_000)
        page.wait_for_selector(".card .badge.done", timeout=30_000)
        assert "done in" in page.inner_text("#status")
        assert page.locator(".card").count() == 1
        page.fill("input[name=seed]", "4")  # a second run, then compare the two side by side
        page.click("#start")
        page.wait_for_function("() => document.querySelectorAll('.card .badge.done').length === 2",
                               timeout=120_000)
        for box in page.locator(".card .pick").all():
            box.check()
        page.click("#compare-btn")
        assert page.locator("#compare figure img").count() == 2
        assert page.evaluate("window.__xss") is None and page.locator(".card img[src='x']").count() == 0
        assert hostile in page.inner_text("#gallery") and hostile in page.inner_text("#compare")
        page.locator(".card .open").last.click()  # the older run back in the studio: its seed on request
        assert page.input_value("input[name=seed]") == ""
        page.click("#reuse-seed")
        assert page.input_value("input[name=seed]") == "3"
        shot = Path(os.environ.get("STYLO_SCREENSHOT_DIR", tmp_path)) / "studio.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("STYLO_SCREENSHOT_DIR") is None:
        shutil.copy(shot, tmp_path / "kept.png")
