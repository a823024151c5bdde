from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..conftest import require  # noqa: E402

require("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from stylo.web.app import create_app  # noqa: E402

from .test_server import CHROMIUM, Server  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]

TINY = {"size": 48, "steps": 2, "coarse_steps": 1, "scales": 1, "precision": "fp32", "seed": 1}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "data"), base_url="http://127.0.0.1") as c:
        yield c


def upload(client: TestClient, path: Path) -> str:
    with path.open("rb") as fh:
        res = client.post("/api/uploads", files={"file": (path.name, fh, "image/png")})
    assert res.status_code == 201, res.text
    return res.json()["id"]


def wait_done(client: TestClient, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``stylo serve`` process, one per test module (test_server.py makes one per test)."""
    s = Server(tmp_path_factory.mktemp("studio") / "data").start()
    yield s
    s.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per test module."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make test` installs it with apt-get")
        pytest.skip("no /usr/bin/chromium")
    sync_api = require("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@contextmanager
def uvicorn_studio(data_dir: Path) -> Iterator[str]:
    """The studio on a real uvicorn server in this process (its requests handled concurrently, as in use): its
    base URL, until the block ends."""
    import threading

    import uvicorn

    from .test_server import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(data_dir), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
