"""The step loop of one pyramid level (:func:`run_scale`) and what it reports: a :class:`Step` per step to
``on_step``, the time left, stop requests polled between steps, and checkpoints when due or when stopped.

What is fixed for a run is its :class:`Schedule`; what the caller plugs in are its :class:`Hooks`; the only
state that changes as the run goes is its :class:`Progress`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from PIL import Image

from stylo.budget import Plan
from stylo.checkpoint import Checkpoint, Checkpointer
from stylo.config import Settings
from stylo.errors import RunError
from stylo.image import to_pil
from stylo.objective import LossParts, Objective
from stylo.plan import RunPlan
from stylo.steppers import PIXEL_SCALE, Stepper, make_optimizer

ETA_MIN_STEPS = 3  # steps of a level measured before the time left is estimated


@dataclass(frozen=True)
class Step:
    """One optimization step, as reported to ``on_step``."""

    step: int  # 1-based, counted over all levels
    total_steps: int
    scale: int  # 1-based pyramid level; the last is the full size
    scales: int
    size: tuple[int, int]  # (width, height) at this level
    loss: float  # L-BFGS: of the image after the step; Adam: before it
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float  # seconds since the start of the run
    eta: float  # estimated seconds left; NaN while it is being estimated (the first steps of a level)
    tensor: torch.Tensor = field(repr=False)  # the current image (1, 3, H, W) in [0, 1]; do not modify
    finish: Callable[[torch.Tensor], torch.Tensor] | None = field(repr=False, default=None)

    def image(self) -> Image.Image:
        """The current image as it would be delivered (in luminance mode: with the content's colours)."""
        return to_pil(self.finish(self.tensor) if self.finish else self.tensor)


@dataclass(frozen=True)
class Hooks:
    """What the caller plugs into a run; every one optional.

    ``on_step`` receives a :class:`Step` after every step. ``on_start`` receives the starting picture once,
    before any target or step is computed (an instant preview; not called when resuming). ``should_stop`` is
    polled between steps: when it returns True the run stops and returns its current image, interrupted.
    ``checkpoint`` is offered a :class:`~stylo.checkpoint.Checkpoint` whenever it says one is due, and when the
    run is stopped."""

    on_step: Callable[[Step], object] | None = None
    on_start: Callable[[Image.Image], object] | None = None
    should_stop: Callable[[], bool] | None = None
    checkpoint: Checkpointer | None = None


@dataclass(frozen=True)
class Schedule:
    """What is fixed for one run before its first step: the settings, the run's plan (stylo.plan: each level's
    (width, height), steps and tiling within the memory budget, the seed) and the key that ties its checkpoints
    to its settings and inputs."""

    settings: Settings
    plan: RunPlan
    key: str = ""

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return self.plan.sizes

    @property
    def steps(self) -> list[int]:
        return self.plan.steps

    @property
    def plans(self) -> list[Plan]:
        return self.plan.levels

    @property
    def seed(self) -> int:
        return self.plan.seed

    @property
    def total_steps(self) -> int:
        return sum(self.steps)

    def eta(self, level: int, done: int, measured: int, seconds: float) -> float:
        """Seconds left, from the measured cost of this level's last ``measured`` steps (the first excluded:
        it includes the level's set-up; ``done`` in all) scaled to the levels still to come by pixels and by
        their plan's cost (a tiled step costs more per pixel); NaN until ``ETA_MIN_STEPS`` are measured."""
        if measured < ETA_MIN_STEPS:
            return math.nan
        per_step = seconds / (measured - 1)
        w, h = self.sizes[level]
        left = (self.steps[level] - done) * per_step
        for later in range(level + 1, len(self.sizes)):
            lw, lh = self.sizes[later]
            ratio = (lw * lh) / (w * h) * self.plans[later].cost / self.plans[level].cost
            left += self.steps[later] * per_step * ratio
        return left


@dataclass
class Progress:
    """The state of one run that changes as it goes."""

    step: int = 0  # steps done, over all levels
    history: list[float] = field(default_factory=list)  # the loss after each step
    interrupted: bool = False
    start: float = field(default_factory=time.perf_counter)

    @classmethod
    def resumed(cls, checkpoint: Checkpoint | None) -> Progress:
        """From the start, or where ``checkpoint`` left off."""
        if checkpoint is None:
            return cls()
        return cls(step=checkpoint.step, history=list(checkpoint.history))


@dataclass(frozen=True)
class Scale:
    """One level to optimize: its index in the schedule, its objective, where its pixels may change, how its
    previews are finished, and the checkpoint it continues from."""

    level: int
    objective: Objective
    grad_mask: torch.Tensor | None = None  # 0 marks pixels that stay as they start
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None  # the preview transform (see Step.finish)
    resume: Checkpoint | None = None  # a checkpoint of this level


def stop_requested(hooks: Hooks, progress: Progress) -> bool:
    """Poll ``should_stop``; once it has said yes the run stays interrupted."""
    if hooks.should_stop is not None and hooks.should_stop():
        progress.interrupted = True
    return progress.interrupted


def save_checkpoint(schedule: Schedule, hooks: Hooks, progress: Progress, level: int, done: int,
                    stepper: Stepper) -> None:
    if hooks.checkpoint is not None:
        hooks.checkpoint.save(Checkpoint(schedule.key, schedule.seed, level, progress.step, done,
                                         list(progress.history), stepper.state()))


def run_scale(image: torch.Tensor, scale: Scale, schedule: Schedule, hooks: Hooks, progress: Progress
              ) -> tuple[torch.Tensor, LossParts]:
    """The level's optimizer steps on ``image`` (RGB in [0, 1]); returns the level's result and its losses."""
    level, objective = scale.level, scale.objective
    x = (image.detach() * PIXEL_SCALE).contiguous()
    stepper = make_optimizer(x, objective, schedule.settings, scale.grad_mask, schedule.plans[level].history)
    done = 0
    if scale.resume is not None:
        stepper.load_state(scale.resume.state)
        done = scale.resume.level_steps
    w, h = schedule.sizes[level]
    steps_before, first_done = progress.step, 0.0
    while done < schedule.steps[level]:
        if stop_requested(hooks, progress):
            save_checkpoint(schedule, hooks, progress, level, done, stepper)
            break
        parts = stepper.step()
        if not torch.isfinite(parts.total):
            raise RunError("the optimization diverged (the loss is not finite); lower lr or the loss weights",
                           settings=("lr",))
        progress.step += 1
        done += 1
        progress.history.append(parts.total.item())
        if hooks.checkpoint is not None and hooks.checkpoint.due():
            save_checkpoint(schedule, hooks, progress, level, done, stepper)
        now = time.perf_counter()
        first_done = first_done or now
        eta = schedule.eta(level, done, progress.step - steps_before, now - first_done)
        if hooks.on_step is not None:
            hooks.on_step(Step(progress.step, schedule.total_steps, level + 1, len(schedule.sizes), (w, h),
                               parts.total.item(), parts.content.item(), parts.style.item(), parts.tv.item(),
                               now - progress.start, eta, x.detach() / PIXEL_SCALE, scale.finish))
    if progress.step == steps_before:  # stopped before the first step of this level
        with torch.no_grad():
            return x / PIXEL_SCALE, objective(x / PIXEL_SCALE)
    return stepper.result()
