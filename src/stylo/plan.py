"""The machine's side of a run: its seed and its memory budget, each decided here and only here.

:class:`~stylo.config.Settings` holds types, bounds and choices only, the same on every machine; what depends on
the machine (the RAM, a GPU's memory) or on chance (a seed that was not given) is decided by these functions, which
every front end (CLI, batch, sweep, studio, video) and the engine call.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from stylo.budget import budget_bytes

if TYPE_CHECKING:
    import torch

REPEATABLE_SEED = 0  # sweeps and clips: their cells and frames must be comparable, and resumable by their key


def run_seed(seed: int | None, repeatable: bool = False) -> int:
    """The seed a run uses: ``seed`` when given; else :data:`REPEATABLE_SEED` where the run must repeat (a sweep's
    cells, a clip's frames); else a fresh one, drawn here: the only place stylo draws a seed. It is recorded in
    every output either way."""
    if seed is not None:
        return seed
    return REPEATABLE_SEED if repeatable else secrets.randbelow(2**31)


def memory_budget(max_memory: str | None, device: torch.device | str = "cpu") -> int:
    """Bytes a run on ``device`` may use: ``max_memory``, or a share of the GPU's memory on a GPU, of the RAM
    elsewhere (stylo.budget.budget_bytes)."""
    import torch  # lazily: the seed needs no torch

    device = torch.device(device)
    total = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else None
    return budget_bytes(max_memory, total)
