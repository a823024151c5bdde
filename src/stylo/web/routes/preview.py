"""The live preview of a learned style: ``POST /api/preview`` with a content upload, a learned network and a
strength in [0, 1] answers the photo painted by that network at the preview's size, as PNG (the page asks again
as its slider moves, one request at a time)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stylo.web.routes.networks import usable
from stylo.web.state import UPLOAD_NAME, error

router = APIRouter()


def strength_of(value: Any) -> float | None:
    """A strength in [0, 1] (a JSON number, not a boolean), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    strength = float(value)
    return strength if math.isfinite(strength) and 0 <= strength <= 1 else None


@router.post("/api/preview", response_model=None)
def preview(request: Request, body: dict[str, Any]) -> Response:
    """``{"content": UPLOAD, "network": ID, "strength": 0..1}`` → the PNG (long side at most the studio's
    preview side; 1: the learned style, 0: close to the photo)."""
    state = request.app.state
    content = str(body.get("content", ""))
    path = state.data_dir / "uploads" / content
    if not UPLOAD_NAME.match(content) or not path.is_file():
        return error(400, "content must be the id of an upload")
    found = usable(request, body.get("network"))
    if isinstance(found, Response):
        return found
    strength = strength_of(body.get("strength", 1.0))
    if strength is None:
        return error(400, "strength must be a number from 0 to 1")
    png = state.previews.paint(path, found[1], strength, state.limits.preview_side)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
