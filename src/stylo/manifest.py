"""What an output records about the run that made it (enough to repeat it with ``--config-from``): a still PNG,
each frame PNG of a clip, and a video (its ``OUT.json``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from stylo import __version__
from stylo.config import Settings
from stylo.optimize import Result


def build_manifest(settings: Settings, result: Result, content: str | Path | None = None,
                   styles: Sequence[str | Path] = (), masks: Sequence[str | Path] = ()) -> dict[str, Any]:
    """The full settings (with the seed actually used), the stylo version, and how the run went."""

    def number(x: float) -> float | None:
        return None if math.isnan(x) else x

    return {
        "stylo_version": __version__,
        "settings": settings.replace(seed=result.seed).to_dict(),
        "seed": result.seed,
        "content": Path(content).name if content else None,
        "styles": [Path(s).name for s in styles],
        "masks": [Path(m).name for m in masks],
        "steps_done": result.steps,
        "interrupted": result.interrupted,
        "loss": number(result.loss),
        "content_loss": number(result.content_loss),
        "style_loss": number(result.style_loss),
        "elapsed_s": round(result.elapsed, 3),
        "device": result.device,
        "precision": result.precision,
    }


def frame_manifest(settings: Settings, result: Result, clip: str | Path | None, styles: Sequence[str | Path],
                   index: int, total: int, source_frame: int | None = None) -> dict[str, Any]:
    """A clip frame's manifest: a still's (:func:`build_manifest`, with the clip's settings and seed, so
    ``--config-from`` on a frame repeats the clip's settings), plus which frame of how many it is, and its frame
    number in the source clip."""
    return {**build_manifest(settings, result, clip, styles), "frame": index, "frames": total,
            "source_frame": index if source_frame is None else source_frame}


def clip_manifest(settings: Settings, seed: int, clip: str | Path | None, styles: Sequence[str | Path],
                  frames: int, fps: Fraction, first: int = 0, metrics: Mapping[str, float] | None = None,
                  elapsed: float = 0.0) -> dict[str, Any]:
    """A video's manifest (written beside it as ``OUT.json``): the settings with the seed, the inputs' names, the
    source frames stylized (``first`` to ``first + frames - 1``), the frame rate, and the metrics."""
    return {
        "stylo_version": __version__,
        "settings": settings.replace(seed=seed).to_dict(),
        "seed": seed,
        "content": Path(clip).name if clip else None,
        "styles": [Path(s).name for s in styles],
        "frames": frames,
        "first_frame": first,
        "fps": str(fps),
        "elapsed_s": round(elapsed, 3),
        "metrics": dict(metrics or {}),
    }
