"""What an output PNG records about the run that made it (enough to repeat it with ``--config-from``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
