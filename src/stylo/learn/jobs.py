"""The two jobs of a learned network (:class:`~stylo.jobs.PaintJob`, :class:`~stylo.jobs.LearnJob`), run by
:func:`stylo.jobs.run_job` like every other job: checked before any compute, their progress as events."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylo.config import MACHINE_FIELDS, Settings
from stylo.errors import StyloError
from stylo.events import LearnEvent, OnEvent, Painted, Preview, StepEvent
from stylo.files import shown

if TYPE_CHECKING:
    from stylo.jobs import LearnJob, PaintJob
    from stylo.learn.network import Network
    from stylo.learn.train import LearnResult


def network_settings(network: Network, given: Mapping[str, Any], source: str = "the command line") -> Settings:
    """The settings a network paints and refines with: those it was trained with (its objective, its size; not
    the machine's), then ``given`` on top."""
    from stylo.settings_io import from_mapping

    recorded = {k: v for k, v in network.settings.items() if k not in MACHINE_FIELDS}
    return from_mapping({**recorded, **given}, source=source)


def check_network_output(path: Path, inputs: list[Path]) -> Path:
    """``path`` ends in .pt, is not a folder and none of the inputs; its folder is made and writable."""
    from stylo.image import check_writable

    if path.suffix != ".pt":
        raise StyloError(f"a network file ends in .stylo.pt: {shown(path)}")
    return check_writable(path, inputs)


def paint_manifest(job: PaintJob, network: Network, settings: Settings, refine_steps: int, interrupted: bool,
                   elapsed: float) -> dict[str, Any]:
    """What a network's still records (in its PNG): stylo's version, the settings with the seed, the inputs, the
    network file's name and hash, the steps it was trained and refined for."""
    from stylo import __version__
    from stylo.learn.file import sha256_of

    return {"stylo_version": __version__, "settings": settings.to_dict(), "seed": settings.seed,
            "content": (job.labels or (job.content.name,))[0], "styles": network.style_names,
            "network": job.network.name, "network_sha256": sha256_of(job.network),
            "network_steps": network.contents.steps_done, "strength": job.strength, "refine_steps": refine_steps,
            "interrupted": interrupted, "elapsed_s": round(elapsed, 3), "device": str(network.device)}


def run_paint(job: PaintJob, emit: OnEvent, should_stop: Callable[[], bool] | None = None) -> Painted:
    """The network's picture of the photo at the settings' size (a :class:`~stylo.events.Preview`), refined by
    ``job.refine`` optimizer steps of the network's objective against the style images its file keeps (a
    :class:`~stylo.events.StepEvent` each; a stop saves the current picture), saved with its manifest."""
    from stylo.image import check_output_path, fit_long_side, open_image, resize, save_png
    from stylo.learn.network import Network
    from stylo.plan import Runtime, plan_run

    if job.refine < 0:
        raise StyloError("--refine must be >= 0")
    if not 0 <= job.strength <= 1:
        raise StyloError(f"--strength must be from 0 to 1, got {job.strength:g}")
    began = time.perf_counter()
    output = check_output_path(job.output, [job.content, job.network])
    s = job.settings
    content = open_image(job.content, "content image")
    size = fit_long_side(content.size, s.size)
    plan = plan_run(s.replace(scales=1), size, Runtime.of(s), repeatable=True)
    network = Network.load(job.network, plan.device, plan.autocast)
    photo = resize(content, size, s.resample)
    picture = network(photo, job.strength)
    emit(Preview(picture))
    steps, interrupted = 0, False
    if job.refine:
        from stylo.optimize import Hooks, VideoInputs, stylize_result

        s = s.replace(steps=job.refine, scales=1)
        result = stylize_result(photo, network.styles(), s,
                                Hooks(on_step=lambda step: emit(StepEvent(step)), should_stop=should_stop),
                                video=VideoInputs(start=picture))
        picture, steps, interrupted = result.image, result.steps, result.interrupted
        s = s.replace(seed=result.seed)
    manifest = paint_manifest(job, network, s, steps, interrupted, time.perf_counter() - began)
    save_png(picture, output, manifest)
    return Painted(picture, output, manifest, steps, interrupted)


def run_learn(job: LearnJob, emit: OnEvent, should_stop: Callable[[], bool] | None = None) -> LearnResult:
    """Train the network of ``job`` (:func:`stylo.learn.train.learn`), a :class:`~stylo.events.LearnEvent` per
    step; a stop writes the network so far and a checkpoint that ``resume`` continues."""
    from stylo.files import regular_file
    from stylo.learn.photos import training_photos
    from stylo.learn.train import learn

    job.learn.check()
    styles = [regular_file(p, "style image") for p in job.styles]
    output = check_network_output(job.output, [*styles, *job.photos])
    photos = training_photos(job.photos, only=job.only_photos)
    return learn(styles, output, photos, job.settings, job.learn, on_step=lambda step: emit(LearnEvent(step)),
                 should_stop=should_stop, resume=job.resume, checkpoint_every=job.checkpoint_every)


__all__ = ["check_network_output", "network_settings", "paint_manifest", "run_learn", "run_paint"]
