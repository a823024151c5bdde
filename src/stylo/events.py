"""What a job reports as it runs: one small frozen dataclass per event, the same for every front end.

A still job (:class:`~stylo.jobs.StillJob`) reports :class:`Preview` (the starting picture), then a
:class:`StepEvent` after every step, then :class:`Done` or :class:`Failed`. A clip job
(:class:`~stylo.jobs.ClipJob`) reports, for every frame it computes, the frame's :class:`Preview` and
:class:`StepEvent` s (``frame`` set), then a :class:`FrameEvent` per finished or reused frame, then
:class:`Done` or :class:`Failed`. A sweep or a batch (a list of still jobs) reports a :class:`CellEvent` per
cell. A paint job (:class:`~stylo.jobs.PaintJob`, a learned network's still) reports its :class:`Preview` (the
network's picture) and, when refined, a :class:`StepEvent` per step; a learn job (:class:`~stylo.jobs.LearnJob`) a
:class:`LearnEvent` per training step. The CLI's progress lines, the studio's event stream and the sweep consume
them; nothing in the library prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from stylo.errors import StyloError
    from stylo.learn.train import LearnResult, LearnStep
    from stylo.loop import Step
    from stylo.render import Rendered


@dataclass(frozen=True)
class Preview:
    """The starting picture of a still, or of a clip's frame ``frame``, before any step (not sent on resume)."""

    image: Image.Image = field(repr=False)
    frame: int | None = None  # a clip's frame index (0-based); None for a still


@dataclass(frozen=True)
class StepEvent:
    """One optimization step (the engine's :class:`~stylo.loop.Step`); for a clip, of frame ``frame`` of
    ``frames``."""

    step: Step
    frame: int | None = None
    frames: int | None = None


@dataclass(frozen=True)
class FrameEvent:
    """A clip's frame is in its frames folder: computed now, found from an earlier run (``reused``), or put
    together from a chunked run's chunks (``assembled``)."""

    index: int  # 0-based
    total: int
    reused: bool
    seconds: float  # this frame's compute time (0 when reused or assembled)
    fps: float  # frames computed per second so far (0 before the first)
    eta: float  # seconds left
    path: Path | None = None
    assembled: bool = False


@dataclass(frozen=True)
class CellEvent:
    """A cell of a sweep (or an image of a batch) is finished: now, or in an earlier run (``reused``). Its
    ``record`` is the cell's JSON record (status, label, seconds, loss, metrics or error): the form that travels
    back from worker processes and Ray, where the job's own :class:`Done` (which holds images) does not."""

    record: dict[str, Any]
    reused: bool


@dataclass(frozen=True)
class LearnEvent:
    """One training step of a learn job (:class:`~stylo.learn.train.LearnStep`: loss, elapsed, ETA)."""

    step: LearnStep


@dataclass(frozen=True)
class Painted:
    """The outcome of a paint job: the picture (the network's, refined by ``refine_steps`` steps), where it was
    saved, and its manifest; ``interrupted`` when a stop came during the refinement (the current picture is
    saved)."""

    image: Image.Image = field(repr=False)
    output: Path
    manifest: dict[str, Any]
    refine_steps: int = 0
    interrupted: bool = False


@dataclass(frozen=True)
class ClipRendered:
    """The outcome of a clip job: the frame files written (all of them unless ``interrupted``), the video (None
    when the output is a folder, or when interrupted), its manifest (also beside the video as ``OUT.json``) and
    metrics (``warping_error`` when asked)."""

    frames: tuple[Path, ...]
    total: int
    folder: Path
    video: Path | None
    manifest: dict[str, Any]
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return len(self.frames) < self.total


@dataclass(frozen=True)
class Done:
    """A job ran to its end or was stopped (``interrupted``): its outcome, :class:`~stylo.render.Rendered`
    for a still, :class:`ClipRendered` for a clip, :class:`Painted` for a paint job,
    :class:`~stylo.learn.train.LearnResult` for a learn job."""

    job: Any
    outcome: Rendered | ClipRendered | Painted | LearnResult

    @property
    def interrupted(self) -> bool:
        from stylo.render import Rendered

        outcome = self.outcome
        return outcome.result.interrupted if isinstance(outcome, Rendered) else outcome.interrupted


@dataclass(frozen=True)
class Failed:
    """A job refused before any compute (:class:`~stylo.errors.StyloError`: bad input) or failed while running
    or saving (:class:`~stylo.errors.RunError`)."""

    job: Any
    error: StyloError


Event = Preview | StepEvent | FrameEvent | CellEvent | LearnEvent | Done | Failed
OnEvent = Callable[[Event], object]

