"""One job model for every front end: a :class:`StillJob` (a picture on files), a :class:`ClipJob` (a clip), a
:class:`PaintJob` (a still painted by a learned network) or a :class:`LearnJob` (training that network), run by
:func:`run_job`, which reports typed events (:mod:`stylo.events`) to ``on_event``. A batch and a sweep are lists
of still jobs (:func:`run_jobs`); the CLI, the studio and the sweep all go through here.

Cancellation follows the engine's contract: ``should_stop()`` is polled between steps (and between frames); a
stopped job ends with :class:`~stylo.events.Done` whose outcome is ``interrupted``. ``at_once`` (the CLI's
:meth:`~stylo.interrupt.StopFlag.immediate`) is entered around work that is not steps (a clip's encoding, the
chunks of a chunked clip on an executor), where a stop request may interrupt at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylo.config import Settings
from stylo.errors import StyloError
from stylo.events import Done, Event, Failed, OnEvent, Preview, StepEvent
from stylo.render import Job, Rendered, render

if TYPE_CHECKING:
    from stylo.learn.train import LearnSettings

StillJob = Job  # a still: content and styles on files, the output PNG, the settings (stylo.render.Job)


@dataclass(frozen=True)
class Chunking:
    """A clip stylized in overlapping chunks on an executor (:mod:`stylo.video.chunks`)."""

    executor: Callable[..., Any]
    size: int = 24  # own frames per chunk
    overlap: int = 6  # frames each chunk also computes before its own


@dataclass(frozen=True)
class ClipJob:
    """What to stylize: a clip (a video file or a folder of frames), the styles, the output (a video file, whose
    frames are kept in ``OUT_frames/`` beside it, or a folder for the frames only) and the settings; the source
    frames ``first`` to ``last - 1``; the output's frame rate (None: the clip's); the names to record for the
    inputs (by default the files' names: the clip's, then one per style)."""

    source: Path
    styles: tuple[Path, ...]
    output: Path
    settings: Settings
    first: int = 0
    last: int | None = None
    fps: Fraction | None = None
    labels: tuple[str, ...] | None = None
    audio: bool = True  # copy the source's audio into the video when the whole clip is stylized
    evaluate: bool = False  # the warping error of the result (stylo.video.flow.warping_error)
    chunking: Chunking | None = None
    folder: Path | None = None  # the frames folder; None: the output folder, or OUT_frames/ beside a video
    network: Path | None = None  # a learned network (.stylo.pt) paints every frame: no styles, no optimization
    blend: float | None = None  # with ``network``: the warped previous frame's share (None: the measured default)


@dataclass(frozen=True)
class PaintJob:
    """A still painted by a learned network (``stylo run PHOTO --network NAME.stylo.pt``): the photo, the network
    file, the output PNG, the settings (those the network was trained with, then the user's:
    :func:`stylo.learn.paint.network_settings`), and ``refine`` optimizer steps from the network's picture."""

    content: Path
    network: Path
    output: Path
    settings: Settings
    refine: int = 0
    labels: tuple[str, ...] | None = None  # the content's name to record (default: the file's)
    strength: float = 1.0  # below 1 the style code moves toward the photo's own (stylo.learn.network.Network)


@dataclass(frozen=True)
class LearnJob:
    """Training a network for a painting (``stylo learn``): the styles, the ``.stylo.pt`` output, the objective's
    settings, the training's own (:class:`~stylo.learn.train.LearnSettings`), the photo folders added to the
    offline ones (``only_photos``: instead of them), and the checkpoint's interval and ``resume``."""

    styles: tuple[Path, ...]
    output: Path
    settings: Settings
    learn: LearnSettings
    photos: tuple[Path, ...] = ()
    only_photos: bool = False
    resume: bool = False
    checkpoint_every: float = 120.0


AnyJob = Job | ClipJob | PaintJob | LearnJob
Outcome = Done | Failed


def run_job(job: AnyJob, on_event: OnEvent | None = None, should_stop: Callable[[], bool] | None = None,
            at_once: Callable[[], AbstractContextManager[object]] | None = None) -> Outcome:
    """Run ``job``, reporting its events to ``on_event`` (the last one is the :class:`Done` or :class:`Failed`
    returned). Bad input (a :class:`StyloError`, before any compute) and a failure while running or saving (a
    :class:`~stylo.errors.RunError`) end in :class:`Failed`; anything else (a bug, ``KeyboardInterrupt``,
    ``MemoryError``) propagates."""
    emit: OnEvent = on_event or (lambda event: None)
    try:
        if isinstance(job, ClipJob):
            from stylo.video.clip import run_clip

            outcome: Outcome = Done(job, run_clip(job, emit, should_stop, at_once))
        elif isinstance(job, PaintJob):
            from stylo.learn.jobs import run_paint

            outcome = Done(job, run_paint(job, emit, should_stop))
        elif isinstance(job, LearnJob):
            from stylo.learn.jobs import run_learn

            outcome = Done(job, run_learn(job, emit, should_stop))
        else:
            outcome = Done(job, run_still(job, emit, should_stop))
    except StyloError as exc:
        outcome = Failed(job, exc)
    emit(outcome)
    return outcome


def run_still(job: Job, emit: OnEvent, should_stop: Callable[[], bool] | None = None) -> Rendered:
    """A still through :func:`stylo.render.render`: its starting picture as :class:`Preview`, each step as
    :class:`StepEvent`; returns the :class:`~stylo.render.Rendered` (with metrics if ``job.evaluate``)."""
    return render(job, lambda step: emit(StepEvent(step)), should_stop, on_start=lambda image: emit(Preview(image)))


def run_jobs(jobs: Sequence[AnyJob], on_event: OnEvent | None = None,
             should_stop: Callable[[], bool] | None = None) -> list[Outcome]:
    """A batch: each job in turn (a failed one does not stop the others); stops before the next job once
    ``should_stop()`` says so."""
    outcomes: list[Outcome] = []
    for job in jobs:
        if should_stop is not None and should_stop():
            break
        outcomes.append(run_job(job, on_event, should_stop))
    return outcomes


def raise_failed(outcome: Outcome) -> Done:
    """The :class:`Done` of an outcome, or its error raised (for front ends that report errors by exceptions)."""
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome


__all__ = ["AnyJob", "Chunking", "ClipJob", "Done", "Event", "Failed", "LearnJob", "Outcome", "PaintJob",
           "StillJob", "raise_failed", "run_job", "run_jobs"]
