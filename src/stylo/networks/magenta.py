"""Magenta's arbitrary-style pair on a device: :func:`load` builds it (cached), :func:`style_code` maps a
style to its 100 numbers, :func:`paint` paints a content image with a code, at the content's size."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from stylo.errors import StyloError
from stylo.networks.predictor import STYLE_SIDE, StylePredictor
from stylo.networks.transform import MIN_SIDE, TransformNetwork
from stylo.networks.weights import read as read_weights

CHANNELS_LAST = torch.channels_last  # oneDNN's convolutions are faster in it on a CPU (the predictor about 2×)


class Networks(NamedTuple):
    predictor: StylePredictor
    transform: TransformNetwork


def build(state: dict[str, torch.Tensor], device: torch.device | str = "cpu") -> Networks:
    """Both networks with ``state``'s ``predictor.*`` and ``transform.*`` weights, in eval mode on ``device``;
    a state that does not fit is a one-line error."""
    nets = Networks(StylePredictor(), TransformNetwork())
    for name, net in zip(Networks._fields, nets):
        prefix = f"{name}."
        own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(own, strict=True)
        except RuntimeError as exc:
            raise StyloError(f"feed-forward weights do not fit the {name}: "
                             f"{(str(exc).splitlines() or [''])[-1].strip()[:160]}") from None
        net.eval().requires_grad_(False).to(device)
    return nets


def load_file(path: Path | str | None = None, device: torch.device | str = "cpu") -> Networks:
    """The networks from the weight file at ``path`` (default: the packaged one), uncached."""
    return build(read_weights(path), device)


def load(device: torch.device | str = "cpu") -> Networks:
    """The packaged networks on ``device``, built once per device (``"cpu"`` and ``torch.device("cpu")`` share)."""
    return _load(torch.device(device))


@lru_cache(maxsize=4)
def _load(device: torch.device) -> Networks:
    return load_file(None, device)


def central_square(image: torch.Tensor, side: int) -> torch.Tensor:
    """The central square of ``image`` (1, 3, H, W), resized to ``side`` px (antialiased bicubic)."""
    h, w = image.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = image[..., top:top + s, left:left + s]
    if s == side:
        return square
    return F.interpolate(square, size=(side, side), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def style_code(style: torch.Tensor) -> torch.Tensor:
    """The (1, 100) style code of ``style`` (1, 3, H, W) RGB in [0, 1], from its central square at 256 px,
    computed in float32 on the style's device (always: it costs little, and the code steers every norm)."""
    nets = load(style.device)
    with torch.no_grad():
        return nets.predictor(central_square(style.float(), STYLE_SIDE).contiguous(memory_format=CHANNELS_LAST))


def paint(content: torch.Tensor, code: torch.Tensor, autocast: torch.dtype | None = None) -> torch.Tensor:
    """``content`` (1, 3, H, W) RGB in [0, 1] painted in the style ``code`` (1, 100), at the content's size on its
    device, under ``autocast`` (None: float32). Returns float32 (1, 3, H, W) in [0, 1]."""
    h, w = content.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise StyloError(f"the feed-forward start needs at least {MIN_SIDE} px per side, got {w}x{h}")
    device = content.device
    nets = load(device)
    with torch.no_grad(), torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        out = nets.transform(content.float().contiguous(memory_format=CHANNELS_LAST), code.to(device).float())
    return out.float().clamp(0, 1).contiguous()
