"""The one pipeline of a still job on files: open and validate the inputs, stylize, save atomically with the
manifest, and evaluate. The CLI, batch and sweep cells and the studio's jobs all reach :func:`render` through
:func:`stylo.jobs.run_job`.

Progress and cancellation follow the engine's contract: ``on_step(Step)`` after every step, and
``should_stop()`` polled between steps. Nothing here prints.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from stylo.checkpoint import CheckpointFile, checkpoint_path
from stylo.config import Settings
from stylo.errors import RunError, StyloError
from stylo.files import regular_file, shown
from stylo.image import NAME_MAX, check_output_path, open_image, save_png
from stylo.manifest import build_manifest
from stylo.optimize import Hooks, Result, Step, blend_weights, stylize_result


@dataclass(frozen=True)
class Job:
    """What to render: input files, the output PNG, the settings, and the names to record for the inputs
    (by default the files' names; the studio records the names its users gave)."""

    content: Path
    styles: tuple[Path, ...]
    output: Path
    settings: Settings
    masks: tuple[Path, ...] = ()
    labels: tuple[str, ...] | None = None  # content label, then one per style
    save_every: int | None = None  # also save every N-th step as OUTPUT_frames/stepNNNNN.png
    checkpoint_every: float | None = None  # seconds between checkpoints OUTPUT.ckpt (0: every step); None: none
    resume: bool = False  # continue from OUTPUT.ckpt
    evaluate: bool = False  # score the result (stylo.metrics) into Rendered.metrics


@dataclass
class Rendered:
    """The outcome of a job: the engine's result, where it was saved, its manifest and its metrics."""

    result: Result
    output: Path
    manifest: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)


def frames_dir(output: Path) -> Path:
    return output.with_name(f"{output.stem}_frames")


def check_inputs(job: Job) -> None:
    """Every input is a regular file (a FIFO would block, a symlink loop raise from deep inside), checked before
    anything is opened; so is a ``weights`` file."""
    regular_file(job.content, "content image")
    for path in job.styles:
        regular_file(path, "style image")
    for path in job.masks:
        regular_file(path, "mask")
    if job.settings.weights is not None:
        regular_file(job.settings.weights, "weights file")


def check_job(job: Job) -> None:
    """Everything that can be known before any compute: the inputs are files, the output is writable and is not
    an input, and its checkpoint can be written (or, to resume, read)."""
    check_inputs(job)
    check_output_path(job.output, inputs=(job.content, *job.styles, *job.masks))
    if job.checkpoint_every is not None and not (0 <= job.checkpoint_every < math.inf):
        raise StyloError("checkpoint_every must be a number of seconds >= 0", settings=("checkpoint_every",))
    if job.checkpoint_every is not None or job.resume:
        check_checkpoint_path(checkpoint_path(job.output), job.resume)
    if job.save_every is not None:
        if job.save_every < 1:
            raise StyloError("save_every must be >= 1", settings=("save_every",))
        frames = frames_dir(job.output)
        try:
            frames.mkdir(exist_ok=True)
        except FileExistsError:
            raise StyloError(f"cannot save frames: {shown(frames)} exists and is not a folder") from None
        except OSError as exc:
            raise StyloError(f"cannot save frames in {shown(frames)}: {exc.strerror or exc}") from None


def check_checkpoint_path(path: Path, resume: bool) -> None:
    """The checkpoint ``OUTPUT.ckpt`` must be a file that can be written beside the output, and read to resume."""
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise StyloError(f"output name is too long for its checkpoint {shown(path.name)[:40]}… "
                         f"(at most {NAME_MAX - len('.ckpt')} bytes)")
    if resume:
        if not os.path.lexists(path):
            raise StyloError(f"nothing to resume: no checkpoint {shown(path)}")
        regular_file(path, "checkpoint")
    elif path.is_dir() and not path.is_symlink():  # a symlink is replaced, not followed
        raise StyloError(f"the checkpoint {shown(path)} is a directory; move it away or choose another output")


def save_result(image: Image.Image, output: Path, manifest: dict[str, Any]) -> Path:
    """Save atomically; if that fails (a full disk, a file too large), keep the image in the temporary
    folder and raise a :class:`RunError` that names where it is."""
    try:
        return save_png(image, output, manifest)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    for folder in (Path(tempfile.gettempdir()), Path.home()):
        try:
            fd, name = tempfile.mkstemp(dir=folder, prefix="stylo-rescued-", suffix=".png")
            os.close(fd)
            save_png(image, name, manifest)
            raise RunError(f"could not write {shown(output)} ({reason}); the image was saved to {name}",
                           saved_to=name)
        except OSError:
            continue
    raise RunError(f"could not write {shown(output)} ({reason}), nor a copy in the temporary folder")


def evaluate_blend(image: Image.Image, content: Image.Image, styles: Sequence[Image.Image],
                   settings: Settings) -> dict[str, float]:
    """The metrics of :mod:`stylo.metrics` against every style: style and colour distances are the
    styles' blend-weighted averages, so a blend of two styles is scored against both."""
    from stylo.metrics import evaluate

    weights = blend_weights(settings, len(styles))
    rows = [evaluate(image, content, style).flat() for style in styles]
    out = dict(rows[0])
    for key in out:
        if key.startswith("style") or key == "color_distance":
            out[key] = sum(w * row[key] for w, row in zip(weights, rows))
    return out


def render(job: Job, on_step: Callable[[Step], object] | None = None, should_stop: Callable[[], bool] | None = None,
           evaluate: bool | None = None, on_start: Callable[[Image.Image], object] | None = None) -> Rendered:
    """Run ``job`` and save its PNG; see the module docstring (``evaluate``: by default ``job.evaluate``).
    Raises :class:`StyloError` for bad input (before any compute) and :class:`RunError` for a failure while
    running or saving. :func:`stylo.jobs.run_job` wraps this in the events of every front end."""
    check_job(job)
    content = open_image(job.content, "content image")
    styles = [open_image(path, "style image") for path in job.styles]
    masks = [open_image(path, "mask") for path in job.masks]

    def step(s: Step) -> None:
        if on_step is not None:
            on_step(s)
        if job.save_every and s.step % job.save_every == 0:
            frame = frames_dir(job.output) / f"step{s.step:05d}.png"
            try:
                save_png(s.image(), frame)
            except OSError as exc:
                raise RunError(f"cannot save frame {shown(frame)}: {exc.strerror or exc}") from exc

    store = None
    if job.checkpoint_every is not None or job.resume:
        store = CheckpointFile(checkpoint_path(job.output), job.checkpoint_every or 0.0)
    resume = store.load() if store is not None and job.resume else None  # stylize_result checks that it fits
    hooks = Hooks(on_step=step, on_start=on_start, should_stop=should_stop,
                  checkpoint=store if job.checkpoint_every is not None else None)
    result = stylize_result(content, styles, job.settings, hooks, masks=masks, resume=resume)
    labels = job.labels or (job.content.name, *(p.name for p in job.styles))
    manifest = build_manifest(job.settings, result, labels[0], labels[1:], [p.name for p in job.masks])
    save_result(result.image, job.output, manifest)
    if store is not None and not result.interrupted:
        store.remove()
    scored = (job.evaluate if evaluate is None else evaluate) and not result.interrupted
    metrics = evaluate_blend(result.image, content, styles, job.settings) if scored else {}
    return Rendered(result, job.output, manifest, metrics)
