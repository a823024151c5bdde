"""The image pyramid: the sizes and steps of each level, coarse to fine, the inputs at one level (colour control,
masks), and the hand-over from one level to the next (Gatys et al. 2017, §5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from stylo import color
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.image import as_image, fit_area, fit_long_side, resize, to_tensor

SCALE_RATIO = 2.0  # each coarser level has half the side of the next
STYLE_ZOOM = 2.0  # the style image is enlarged to the content's area at most this much a side (see style_size_for)


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
