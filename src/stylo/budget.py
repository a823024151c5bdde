"""The memory budget of a run, and the image sizes that follow from it (no torch).

The figures are measured (docs/benchmarks.md, "Memory"): peak RSS of a default run grows by about
2.1 GB per megapixel of the output above a fixed 0.6 GB (the network, the interpreter, the style
targets). The largest long side a budget allows assumes the worst case, a square image.
"""

from __future__ import annotations

import math
import os
import re
from functools import lru_cache

from stylo.errors import StyloError

GIB = 1024**3
FIXED_BYTES = int(0.6 * GIB)  # interpreter, torch, VGG19 weights, style targets
BYTES_PER_PIXEL = 2100  # activations, gradients and L-BFGS history per output pixel (2.1 GB per megapixel)
DEFAULT_SHARE = 0.6  # of the machine's physical memory, when no budget is given
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


def budget_bytes(max_memory: str | None) -> int:
    """The budget in bytes: ``max_memory``, or a safe share of this machine's RAM."""
    if max_memory is None:
        return max(MIN_BUDGET, int(physical_memory() * DEFAULT_SHARE))
    value = parse_memory(max_memory)
    if value < MIN_BUDGET:
        raise StyloError(f"max_memory must be at least 1G, got {max_memory!r}", settings=("max_memory",))
    return value


def estimated_bytes(pixels: int) -> int:
    """Peak memory of a run whose output has ``pixels`` pixels."""
    return FIXED_BYTES + BYTES_PER_PIXEL * pixels


def max_side(budget: int) -> int:
    """The largest long side (px) of a square output that fits ``budget`` bytes."""
    pixels = max(0, budget - FIXED_BYTES) / BYTES_PER_PIXEL
    return int(math.sqrt(pixels))
