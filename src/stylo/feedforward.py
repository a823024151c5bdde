"""A feed-forward first guess: Magenta's arbitrary-style network (Ghiasi et al. 2017) paints any style in a
fraction of a second. stylo starts its optimization from that picture (``init="feedforward"``): it already
has the painting's palette and broad strokes, so the optimizer only refines the texture and never has to
build the style from the photo's colours, which is where the pasted objects of a coarse pyramid came from.

The network is stylo's torch port (:mod:`stylo.networks`, weights Apache-2.0 from the TensorFlow and Magenta
projects, shipped in the package): it paints at the content's own size, on the content's device, under the
run's autocast dtype. A blend of styles mixes their 100-number codes by the blend's weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from stylo.errors import StyloError
from stylo.image import to_pil, to_tensor
from stylo.networks import paint, style_code


def blended_code(styles: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """The (1, 100) code of a blend: the styles' codes mixed by ``weights`` (one per style)."""
    if not styles or len(styles) != len(weights):
        raise StyloError(f"the feed-forward start needs one weight per style, got {len(styles)} styles and "
                         f"{len(weights)} weights")
    return sum((w * style_code(s) for w, s in zip(weights, styles)), torch.zeros(1, 100, device=styles[0].device))


def feedforward(content: torch.Tensor, styles: Sequence[torch.Tensor], weights: Sequence[float],
                autocast: torch.dtype | None = None) -> torch.Tensor:
    """``content`` (1, 3, H, W) in [0, 1] painted in the blend of ``styles`` (each (1, 3, h, w)) mixed by
    ``weights``, at the content's size on its device under ``autocast`` (None: float32); float32 in [0, 1]."""
    return paint(content, blended_code(styles, weights).to(content.device), autocast)


PAINT_SCALE = 1.5  # the start is painted at this many times the level's size, then resized down to it


def painted_start(content: torch.Tensor, styles: Sequence[torch.Tensor], weights: Sequence[float],
                  autocast: torch.dtype | None = None, scale: float = PAINT_SCALE) -> torch.Tensor:
    """:func:`feedforward` painted at ``scale`` times the content's size and resized back (antialiased bicubic).

    The network's strokes have a fixed size in its own pixels: painted at a 256 px level's own size they read,
    after the 2× of a 512 px output, as a crossing diagonal hatch over flat skies (the demo's Starry Night sky at
    100 %); painted at 1.5× (what the int8 path's 384 px did for that level) and resized down, as finer strokes
    that the optimization turns into the painting's (docs/benchmarks.md, "Round 3: the start's size")."""
    if scale == 1:
        return feedforward(content, styles, weights, autocast)
    h, w = content.shape[-2:]
    big = F.interpolate(content, size=(round(h * scale), round(w * scale)), mode="bicubic", antialias=True,
                        align_corners=False).clamp(0, 1)
    painted = feedforward(big, styles, weights, autocast)
    return F.interpolate(painted, size=(h, w), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def feedforward_image(content: Image.Image, styles: Sequence[Image.Image], weights: Sequence[float]
                      ) -> Image.Image:
    """:func:`painted_start` on PIL images (on the CPU, float32), at the content's size: a clip frame's fresh
    start."""
    return to_pil(painted_start(to_tensor(content), [to_tensor(s) for s in styles], weights))
