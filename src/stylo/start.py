"""The first level's starting picture: the content, a feed-forward painting of it, the style, noise, or (video)
the previous frame's result warped to this one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from stylo import color
from stylo.config import Settings
from stylo.image import gaussian_blur, resize, to_tensor
from stylo.pyramid import Level


@dataclass(frozen=True)
class VideoInputs:
    """What a later frame of a clip brings (stylo.video): ``start`` replaces ``init`` at the first level, and
    ``temporal`` (the previous result warped to this frame, and a (1, 1, H, W) mask in [0, 1] of where the warp
    holds) adds Ruder et al.'s temporal term at the final size."""

    start: Image.Image | None = None
    temporal: tuple[Image.Image, torch.Tensor] | None = None


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


def initial_image(level: Level, s: Settings, seed: int, blend: Sequence[float] = (1.0,),
                  autocast: torch.dtype | None = None) -> torch.Tensor:
    """The first level's start: the content, a feed-forward painting of it (its low frequencies with the photo's
    detail, see ``init_lowpass``; in luminance mode its luminance as is; painted under the run's ``autocast``
    dtype, the plan's), the (first) style, or noise."""
    if s.init == "content":
        return level.content.clone()
    if s.init == "feedforward":
        from stylo.feedforward import painted_start

        painted = painted_start(level.content_rgb, level.styles, blend, autocast)
        if s.preserve_color == "luminance":  # the colours come from the photo: the start gives only its texture
            return color.gray(color.luminance(painted))
        return keep_low_frequencies(painted, level.content, s.init_lowpass)
    if s.init == "style":
        return F.interpolate(level.styles[0], size=level.content.shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(level.content.shape, generator=generator).to(level.content.device)


def first_image(level: Level, s: Settings, seed: int, blend: Sequence[float], start: Image.Image | None,
                autocast: torch.dtype | None = None) -> torch.Tensor:
    """The first level's start: ``start`` (a video frame's, resized to the level) if given, else
    :func:`initial_image`."""
    if start is None:
        return initial_image(level, s, seed, blend, autocast)
    size = (level.content.shape[-1], level.content.shape[-2])
    return to_tensor(resize(start.convert("RGB"), size, s.resample)).to(level.content.device)
