"""What a run will do, known before it starts: the pyramid levels it runs (fewer than Levels where the coarsest
ones are skipped), the steps on each, the time and memory it takes on this server, and the checks the engine
would otherwise make only once the run has started, so that the studio refuses at once what could only fail.
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass
from typing import Any

from stylo.config import Settings
from stylo.errors import StyloError
from stylo.image import fit_long_side
from stylo.layers import min_side
from stylo.web.words import page_label

# Seconds per step and megapixel, untiled, before this server has timed a run of its own: a 2-core CPU takes
# 3.3 s for a 512×384 step in fp32 (docs/benchmarks.md, round 2), i.e. about 34 core-seconds per megapixel.
CPU_CORE_SECONDS_PER_MP_STEP = 34.0
GPU_SECONDS_PER_MP_STEP = 0.15
SETUP_SECONDS = 2.0  # the start picture, the style targets
FRAME_OVERHEAD_SECONDS = 1.0  # a later clip frame: optical flow, the warped start


@dataclass(frozen=True)
class Level:
    width: int
    height: int
    steps: int
    cost: float  # time per pixel relative to an untiled step (tiling repeats the halo)
    bytes: int


def check_runnable(s: Settings, content_size: tuple[int, int], n_styles: int = 1) -> list[Level]:
    """The levels of a run of ``s`` on a content image of ``content_size``; a :class:`StyloError` in the page's
    words for anything the engine would refuse once started (blend weights, device, precision, sizes)."""
    from stylo.device import resolve_device
    from stylo.optimize import check_style_counts
    from stylo.plan import plan_run

    check_style_counts(s, n_styles)
    minimum = min_side(s.model, (*s.content_layers, *s.style_layers))
    final = fit_long_side(content_size, s.size)
    if min(final) < minimum:
        raise StyloError(f"at {page_label('size')} {s.size} this photo would be {final[0]}×{final[1]} px; the network "
                         f"needs at least {minimum} px a side: choose a larger {page_label('size')}",
                         settings=("size",))
    try:
        run = plan_run(s, content_size, repeatable=True)  # no draw: the run draws its own when it is queued
    except StyloError as exc:
        if "precision" not in exc.settings:
            raise
        device = resolve_device(s.device)
        raise StyloError(f"{exc} (this studio computes on its {device.type.upper()})",
                         settings=("precision",)) from None
    return [Level(w, h, steps, p.cost, p.bytes) for (w, h), steps, p in zip(run.sizes, run.steps, run.levels)]


def check_learnable(s: Settings, crop: int) -> None:
    """What a training of ``s`` on ``crop``×``crop`` px crops would refuse once started (in the page's words):
    crops smaller than the layers allow, a device that is not there. Training computes in fp32, like
    :func:`stylo.learn.train.learn`."""
    from stylo.plan import Runtime, plan_run

    minimum = min_side(s.model, (*s.content_layers, *s.style_layers))
    if crop < minimum:
        raise StyloError(f"Crop: the network needs crops of at least {minimum} px a side, got {crop}")
    plan_run(s, (crop, crop), Runtime(s.device, "fp32", s.max_memory, s.tile), repeatable=True)


class Speed:
    """Seconds per untiled megapixel-step on this server: a first guess from the device, then the median of
    the runs it has timed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[float] = []

    @staticmethod
    def guess() -> float:
        import torch

        if torch.cuda.is_available():
            return GPU_SECONDS_PER_MP_STEP
        return CPU_CORE_SECONDS_PER_MP_STEP / max(1, torch.get_num_threads())

    def record(self, levels: list[Level], seconds: float) -> None:
        work = work_units(levels)
        if work > 0 and seconds > SETUP_SECONDS:
            with self.lock:
                self.seen = [*self.seen[-9:], (seconds - SETUP_SECONDS) / work]

    def per_unit(self) -> float:
        with self.lock:
            return statistics.median(self.seen) if self.seen else self.guess()


def work_units(levels: list[Level]) -> float:
    """Megapixel-steps, weighted by each level's tiling cost."""
    return sum(lv.steps * lv.width * lv.height / 1e6 * lv.cost for lv in levels)


def later_frame_seconds(s: Settings, levels: list[Level], per_unit: float) -> float:
    """A clip's frame after the first: ``steps`` at the full size (stylo.video.pipeline.later_settings)."""
    full = levels[-1]
    return s.steps * full.width * full.height / 1e6 * full.cost * per_unit + FRAME_OVERHEAD_SECONDS


def describe(s: Settings, levels: list[Level], per_unit: float, frames: int = 0) -> dict[str, Any]:
    """The plan as the page shows it. A clip: the first frame runs every level, each later frame only
    ``steps`` at the full size, from the previous frame warped."""
    seconds = SETUP_SECONDS + work_units(levels) * per_unit
    seconds += max(0, frames - 1) * later_frame_seconds(s, levels, per_unit)
    return {"levels": [{"width": lv.width, "height": lv.height, "steps": lv.steps} for lv in levels],
            "asked_levels": s.scales, "total_steps": sum(lv.steps for lv in levels), "coarsest": s.coarsest,
            "seconds": round(seconds, 1), "bytes": max(lv.bytes for lv in levels), "frames": frames,
            "tiled": any(lv.cost > 1 for lv in levels)}
