"""The page, its static files, health and the bundled samples."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from stylo.web.state import error

router = APIRouter()
SAMPLE_SUFFIXES = (".jpg", ".png")


def static_dir() -> Path:
    return Path(str(resources.files("stylo.web") / "static"))


def samples() -> dict[str, Path]:
    folder = Path(str(resources.files("stylo") / "samples"))
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix in SAMPLE_SUFFIXES and "mask" not in p.name
            and "protect" not in p.name}


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse((static_dir() / "index.html").read_text(encoding="utf-8"))


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page links; both get the page's SVG icon."""
    return FileResponse(static_dir() / "favicon.svg", media_type="image/svg+xml")


@router.get("/api/health")
def health(request: Request) -> dict[str, Any]:
    from stylo import __version__

    return {"ok": True, "version": __version__, "ready": request.app.state.jobs.ready.is_set()}


@router.get("/api/limits")
def limits(request: Request) -> dict[str, Any]:
    """What this server accepts, for the page's controls."""
    return request.app.state.limits.public()


@router.get("/api/samples")
def list_samples() -> list[dict[str, str]]:
    return [{"name": name, "url": f"/api/samples/{name}"} for name in samples()]


@router.get("/api/samples/{name}", response_model=None)
def get_sample(name: str) -> Response:
    path = samples().get(name)
    return FileResponse(path) if path else error(404, f"no sample named {name!r}")
