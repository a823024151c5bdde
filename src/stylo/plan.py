"""The machine's side of a run, decided in one place: :func:`plan_run` gives a run its :class:`RunPlan` (device,
precision, seed, pyramid levels, the tiling of each level within the memory budget, the backbone's geometry),
:func:`run_seed` is the only place a seed is drawn and :func:`memory_budget` the only place the budget is computed.

:class:`~stylo.config.Settings` holds types, bounds and choices only, the same on every machine (``device="auto"``
is a request; what "auto" means here is the plan's). Every front end (CLI, batch, sweep, studio, video) reaches the
engine through :func:`stylo.optimize.stylize_result`, which plans the run here; the studio plans a run here before it
queues it, to refuse at once what could only fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stylo.budget import Plan, budget_bytes, max_side, plan
from stylo.errors import StyloError

if TYPE_CHECKING:
    import torch

    from stylo.config import Settings
    from stylo.layers import Geometry

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


@dataclass(frozen=True)
class Runtime:
    """What a run asks of the machine: a device, a precision, a memory budget and a tile (px), each resolved by
    :func:`plan_run`. By default the settings' requests (:meth:`of`)."""

    device: str = "auto"
    precision: str = "auto"
    max_memory: str | None = None
    tile: int | None = None

    @classmethod
    def of(cls, s: Settings) -> Runtime:
        return cls(s.device, s.precision, s.max_memory, s.tile)


@dataclass(frozen=True)
class RunPlan:
    """Everything a run decides before its first step (:func:`plan_run`)."""

    device: torch.device
    autocast: torch.dtype | None  # the network's autocast dtype; None: fp32
    seed: int
    sizes: list[tuple[int, int]]  # each level's (width, height), coarse to fine; the last is the output's
    steps: list[int]  # per level (stylo.pyramid.steps_per_level)
    levels: list[Plan]  # per level: its tiling, its L-BFGS history and its estimated peak bytes
    geometry: Geometry  # the backbone's: strides, halo and smallest side of its layers
    minimum: int  # the smallest image side (px) the layers allow
    budget: int  # bytes

    @property
    def precision(self) -> str:
        return str(self.autocast).replace("torch.", "") if self.autocast else "fp32"

    @property
    def total_steps(self) -> int:
        return sum(self.steps)

    @property
    def bytes(self) -> int:
        """The estimated peak memory of the run: its largest level's."""
        return max(p.bytes for p in self.levels)


def plan_run(s: Settings, content_size: tuple[int, int], runtime: Runtime | None = None, *,
             geometry: Geometry | None = None, seed: int | None = None, repeatable: bool = False) -> RunPlan:
    """The plan of a run of ``s`` on a content image of ``content_size`` (px) on this machine: the device and
    precision the ``runtime`` asks for (by default the settings'), the seed (``seed``, e.g. a checkpoint's; else
    :func:`run_seed`), the pyramid, and each level's tiling within the memory budget, for the backbone of
    ``geometry`` (by default the named VGG's). A one-line :class:`StyloError` for what this machine cannot run:
    a device that is not there, a precision it lacks, a size that does not fit (naming the size that would)."""
    from stylo.device import resolve_device, resolve_precision
    from stylo.image import check_min_side, fit_long_side
    from stylo.layers import geometry as named_geometry
    from stylo.pyramid import scale_sizes, steps_per_level

    runtime = runtime or Runtime.of(s)
    geometry = geometry or named_geometry(s.model)
    minimum = geometry.min_side((*s.content_layers, *s.style_layers))
    final = fit_long_side(content_size, s.size)
    check_min_side(final, minimum, f"content image at size {s.size}")
    sizes = scale_sizes(final, s.scales, minimum, s.coarsest)
    device = resolve_device(runtime.device)
    autocast = resolve_precision(runtime.precision, device)
    budget = memory_budget(runtime.max_memory, device)
    levels = level_plans(s, sizes, budget, geometry, runtime.tile)
    return RunPlan(device, autocast, run_seed(s.seed, repeatable) if seed is None else seed, sizes,
                   steps_per_level(s, len(sizes)), levels, geometry, minimum, budget)


def level_plans(s: Settings, sizes: Sequence[tuple[int, int]], budget: int, geometry: Geometry,
                tile: int | None = None) -> list[Plan]:
    """Each level's tiling and L-BFGS history within ``budget`` bytes; a one-line error naming the size that
    fits if one does not."""
    layers = (*s.content_layers, *s.style_layers)
    margin, grid = geometry.halo(layers), geometry.min_side(layers)
    plans = [plan(w, h, budget, margin, grid, tile) for w, h in sizes]
    limit = max_side(budget, margin)
    if any(p is None for p in plans):
        w, h = sizes[-1]
        raise StyloError(f"size {s.size} needs more memory than max_memory allows: at most {limit} px on the long "
                         f"side (asked: {w}×{h} px)", settings=("size", "max_memory"))
    if s.style_size is not None and s.style_size > limit:
        raise StyloError(f"style_size {s.style_size} needs more memory than max_memory allows: at most {limit} px",
                         settings=("style_size", "max_memory"))
    return [p for p in plans if p is not None]
