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


def feedforward_image(content: Image.Image, styles: Sequence[Image.Image], weights: Sequence[float]
                      ) -> Image.Image:
    """:func:`feedforward` on PIL images (on the CPU, float32), at the content's size."""
    return to_pil(feedforward(to_tensor(content), [to_tensor(s) for s in styles], weights))
