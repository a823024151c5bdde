"""Stylize a clip: frame by frame through :func:`stylo.optimize.stylize_result`, each later frame starting
from the previous result warped by optical flow and held to it by the temporal loss (Ruder et al. 2016).

Every finished frame is saved as ``NNNNN.png`` in the frames folder at once (atomically): a run that was
killed starts again at the first missing frame, from the frame before it, and gets the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from stylo.config import Settings
from stylo.image import save_png
from stylo.optimize import Result, stylize_result
from stylo.video.flow import warp_previous

LATER_FRAME_SCALES = 1  # later frames: a short run at the full size, from the warped previous result


@dataclass(frozen=True)
class FrameDone:
    """Progress of a clip, one per frame: passed to ``on_frame``."""

    index: int  # 0-based
    total: int
    reused: bool  # found in the frames folder from an earlier run
    seconds: float  # this frame's time (0 when reused)
    fps: float  # frames per second so far (computed frames only)
    eta: float  # seconds left


def frame_path(folder: Path, index: int) -> Path:
    return folder / f"{index:05d}.png"


def later_settings(s: Settings) -> Settings:
    """The settings of every frame after the first: full size only (its start is the warped frame)."""
    return s.replace(scales=LATER_FRAME_SCALES)


def stylize_frames(frames: Sequence[Image.Image], styles: Sequence[Image.Image], settings: Settings, folder: Path,
                   on_frame: Callable[[FrameDone], object] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """Stylize ``frames`` into ``folder`` (resuming what is there); returns the frame files written so far.
    The seed is fixed across frames, so a resumed run repeats an uninterrupted one."""
    folder.mkdir(parents=True, exist_ok=True)
    s = settings if settings.seed is not None else settings.replace(seed=0)
    written: list[Path] = []
    previous: Image.Image | None = None
    computed, spent = 0, 0.0
    for i, frame in enumerate(frames):
        path = frame_path(folder, i)
        if path.exists():
            previous = Image.open(path).convert("RGB")
            written.append(path)
            if on_frame:
                on_frame(FrameDone(i, len(frames), True, 0.0, computed / spent if spent else 0.0, 0.0))
            continue
        if should_stop is not None and should_stop():
            break
        start = time.perf_counter()
        result = stylize_frame(frame, frames[i - 1] if i else None, previous, styles, s, should_stop)
        if result.interrupted:
            break
        save_png(result.image, path)
        written.append(path)
        previous = result.image
        computed, spent = computed + 1, spent + time.perf_counter() - start
        if on_frame:
            rate = computed / spent
            on_frame(FrameDone(i, len(frames), False, time.perf_counter() - start, rate, (len(frames) - i - 1) / rate))
    return written


def stylize_frame(frame: Image.Image, last_frame: Image.Image | None, previous: Image.Image | None,
                  styles: Sequence[Image.Image], s: Settings, should_stop: Callable[[], bool] | None) -> Result:
    """One frame: the first on the full schedule; a later one from the warped previous result, with the
    temporal term where the flow holds. ``temporal_weight = 0`` is the baseline: every frame on its own."""
    if last_frame is None or previous is None or s.temporal_weight == 0:
        return stylize_result(frame, list(styles), s, should_stop=should_stop)
    import torch

    from stylo.image import fit_long_side

    size = fit_long_side(frame.size, s.size)
    small = frame.resize(size, Image.Resampling.LANCZOS)
    warped, mask = warp_previous(previous, small, last_frame)
    start = Image.composite(warped, fresh_start(small, styles, s), Image.fromarray((mask * 255).astype("uint8")))
    return stylize_result(frame, list(styles), later_settings(s), should_stop=should_stop, start=start,
                          temporal=(warped, torch.from_numpy(mask)[None, None]))


def fresh_start(frame: Image.Image, styles: Sequence[Image.Image], s: Settings) -> Image.Image:
    """What a frame would start from on its own: where the previous frame cannot be warped (a region that
    came into view, an occlusion) the start is filled from this, not smeared from the border."""
    if s.init != "feedforward":
        return frame
    from stylo.feedforward import feedforward
    from stylo.optimize import blend_weights

    return feedforward(frame, styles, blend_weights(s, len(styles)))
