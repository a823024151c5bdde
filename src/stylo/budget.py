"""The memory budget of a run: how it is tiled, how much L-BFGS history it keeps, and the sizes it allows
(no torch).

The figures are measured (docs/benchmarks.md, "High resolution"): peak RSS of an untiled run grows by about
2.1 GB per megapixel above a fixed 0.6 GB (the interpreter, the network, the style targets), plus 24 bytes
a pixel for each L-BFGS pair it keeps (a 12-step level at 2048 px peaked at 8.9 GB, not the 7.1 GB of 2
steps). A tiled run (stylo.tiling) keeps only full-size images (the image, its gradient, the L-BFGS vectors,
the content target) and one tile's activations at a time, so a budget allows far larger images.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from stylo.errors import StyloError

GIB = 1024**3
FIXED_BYTES = int(0.6 * GIB)  # interpreter, torch, VGG19 weights, style targets
BYTES_PER_PIXEL = 2050  # untiled: activations, gradients and images per output pixel, besides the L-BFGS pairs
IMAGE_BYTES_PER_PIXEL = 330  # tiled: the full-size tensors besides the L-BFGS history
PAIR_BYTES_PER_PIXEL = 24  # one L-BFGS curvature pair: two fp32 RGB images
TILE_BYTES_PER_PIXEL = 1400  # tiled: activations and their gradients per computed pixel of a tile
HISTORIES = (20, 10, 5, 3)  # L-BFGS pairs kept, tried from the most (20: untiled runs)
GOOD_TILE = 512  # px: smaller tiles waste time on their halo, so fewer pairs are kept first
MIN_TILE = 64
DEFAULT_SHARE = 0.3  # of the machine's physical memory (or of a GPU's), when no budget is given
MIN_BUDGET = 1 * GIB
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": GIB, "t": 1024**4}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """``"8G"``, ``"512M"``, ``"1.5GiB"`` or a plain number of bytes → bytes; a one-line error otherwise."""
    match = _MEMORY.match(text) if isinstance(text, str) else None
    if match is None:
        raise StyloError(f"max_memory must be a size like 8G or 512M, got {text!r}", settings=("max_memory",))
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not math.isfinite(value):
        raise StyloError(f"max_memory is too large: {text!r}", settings=("max_memory",))
    return int(value)


@lru_cache(maxsize=1)
def physical_memory() -> int:
    """Bytes of RAM on this machine (16 GiB if it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * GIB


def budget_bytes(max_memory: str | None, device_memory: int | None = None) -> int:
    """The budget in bytes: ``max_memory``, or a safe share of this machine's RAM (of ``device_memory``, a
    GPU's, where the run is on one)."""
    if max_memory is None:
        return max(MIN_BUDGET, int((device_memory or physical_memory()) * DEFAULT_SHARE))
    value = parse_memory(max_memory)
    if value < MIN_BUDGET:
        raise StyloError(f"max_memory must be at least 1G, got {max_memory!r}", settings=("max_memory",))
    return value


@dataclass(frozen=True)
class Plan:
    """How one pyramid level runs within the budget."""

    tile: int | None  # owned tile side in px; None: the whole image at once
    history: int  # L-BFGS curvature pairs kept
    margin: int  # the tiles' halo (px)
    bytes: int  # estimated peak

    @property
    def cost(self) -> float:
        """Time per pixel relative to an untiled run: a tiled step runs the network forward twice (the Gram
        sums, then the gradient) and computes each tile's halo too."""
        if self.tile is None:
            return 1.0
        return 4 / 3 * ((self.tile + 2 * self.margin) / self.tile) ** 2


def untiled_bytes(pixels: int, history: int = HISTORIES[0]) -> int:
    return FIXED_BYTES + (BYTES_PER_PIXEL + PAIR_BYTES_PER_PIXEL * history) * pixels


def tiled_bytes(pixels: int, history: int, tile: int, margin: int) -> int:
    crop = (tile + 2 * margin) ** 2
    return FIXED_BYTES + (IMAGE_BYTES_PER_PIXEL + PAIR_BYTES_PER_PIXEL * history) * pixels + TILE_BYTES_PER_PIXEL * crop


def plan(width: int, height: int, budget: int, margin: int, grid: int = 16, tile: int | None = None) -> Plan | None:
    """The fastest way to run a ``width`` × ``height`` level within ``budget`` bytes: untiled if it fits; else
    the largest tile (a multiple of ``grid``), keeping as many L-BFGS pairs as still allow a good tile. None if
    nothing fits. A given ``tile`` is kept, with as many pairs as fit."""
    pixels = width * height
    if tile is not None and tile < max(width, height):
        fits = [h for h in HISTORIES if tiled_bytes(pixels, h, tile, margin) <= budget]
        return Plan(tile, fits[0], margin, tiled_bytes(pixels, fits[0], tile, margin)) if fits else None
    for history in HISTORIES[:2]:
        if untiled_bytes(pixels, history) <= budget:
            return Plan(None, history, margin, untiled_bytes(pixels, history))
    for smallest in (GOOD_TILE, MIN_TILE):
        for history in HISTORIES:
            room = budget - tiled_bytes(pixels, history, 0, 0)
            if room <= 0:
                continue
            side = int(math.sqrt(room / TILE_BYTES_PER_PIXEL)) - 2 * margin
            tile = min(side, max(width, height)) // grid * grid
            if tile >= min(smallest, max(width, height)):
                return Plan(tile, history, margin, tiled_bytes(pixels, history, tile, margin))
    return None


def max_side(budget: int, margin: int = 80) -> int:
    """The largest long side (px) of a square output that fits ``budget`` bytes, tiled as finely as allowed."""
    room = budget - FIXED_BYTES - TILE_BYTES_PER_PIXEL * (MIN_TILE + 2 * margin) ** 2
    pixels = max(0, room) / (IMAGE_BYTES_PER_PIXEL + PAIR_BYTES_PER_PIXEL * HISTORIES[-1])
    untiled = max(0, budget - FIXED_BYTES) / (BYTES_PER_PIXEL + PAIR_BYTES_PER_PIXEL * HISTORIES[1])
    return max(int(math.sqrt(pixels)), int(math.sqrt(untiled)))
