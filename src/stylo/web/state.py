"""What the studio's routers share through ``app.state``: the store, the queue, the events, the data folder
and the limits of what a request may ask for."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from stylo.budget import max_side
from stylo.config import FIELDS, WEB_FIELDS, Settings, choices
from stylo.image import MAX_PIXELS

UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.png$")  # what the server names uploads; nothing else is served
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
STUDIO_MAX_SIZE = 8192  # the page's largest size choice; the server's memory budget lowers it (tiled runs)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def clean_label(value: Any, fallback: str, limit: int) -> str:
    """A user-given name as plain text: control characters dropped, length capped. (The page renders labels
    with textContent; this keeps them readable in logs and manifests too.)"""
    text = "".join(ch for ch in str(value or "") if unicodedata.category(ch)[0] != "C").strip()
    return text[:limit] or fallback


def _learn_defaults() -> dict[str, Any]:
    from stylo.learn.train import LearnSettings

    d = LearnSettings()
    return {"steps": d.steps, "crop": d.crop}


@dataclass(frozen=True)
class Limits:
    """The studio's own caps, on top of the settings' bounds (which every caller shares)."""

    max_upload_bytes: int = 25 * 1024 * 1024
    max_upload_pixels: int = min(MAX_PIXELS, 40_000_000)
    max_steps: int = 2000
    max_queued: int = 20  # runs waiting or running at once
    upload_quota_bytes: int = 2 * 1024**3  # all uploads together; unused ones are pruned first
    max_label: int = 80
    max_memory: str | None = None  # the server's budget (``stylo serve --max-memory``)
    max_clip_bytes: int = 50 * 1024 * 1024
    max_clip_frames: int = 120
    max_clip_pixels: int = 250_000_000  # all frames together: 120 frames of 1920×1080 (decoded one at a time)
    max_clip_size: int = 512  # px: a clip's output size (every frame is a run)
    max_learn_steps: int = 2000  # a learned style's training steps
    max_crop: int = 512  # px: the side of a training crop
    preview_side: int = 384  # px: the long side of the live preview of a learned style

    @property
    def max_size(self) -> int:
        from stylo.device import resolve_device
        from stylo.plan import memory_budget

        return min(STUDIO_MAX_SIZE, max_side(memory_budget(self.max_memory, resolve_device("auto"))))

    def public(self) -> dict[str, Any]:
        return {"max_size": self.max_size, "max_steps": self.max_steps, "max_upload_bytes": self.max_upload_bytes,
                "max_clip_bytes": self.max_clip_bytes, "max_clip_frames": self.max_clip_frames,
                "max_clip_size": min(self.max_clip_size, self.max_size),
                "max_learn_steps": self.max_learn_steps, "max_crop": self.max_crop,
                "preview_side": self.preview_side, "learn_defaults": _learn_defaults(),
                "defaults": Settings().to_dict(),
                "settings": sorted(WEB_FIELDS),
                "choices": {name: list(c) for name in FIELDS if (c := choices(name)) and name in WEB_FIELDS}}
