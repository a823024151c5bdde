"""The pieces the two networks share: TensorFlow's "SAME" padding for strided convolutions, and the
conditional instance norm whose scale and shift come from the style code (Dumoulin et al. 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CODE_SIZE = 100  # numbers in a style code
NORM_EPS = 1e-5  # the transform's instance-norm epsilon (the graph's 127 · 7.874e-8)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's "SAME" convolution along a side of ``size``: the output has
    ceil(size / stride) samples, and an odd total puts the extra sample after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A convolution padded with zeros as TensorFlow's "SAME" (asymmetric when strided)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = same_padding(x.shape[-2], kh, sh)
        left, right = same_padding(x.shape[-1], kw, sw)
        return super().forward(F.pad(x, (left, right, top, bottom)))


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose per-channel scale (γ) and shift (β) are affine functions of the style code:
    ``γ = scale(code)``, ``β = shift(code)`` (the graph's ``StyleNorm/Conv_1`` and ``StyleNorm/Conv``, 1×1
    convolutions on the (1, 100, 1, 1) code, i.e. dense layers). The variance is the biased one, as in TF."""

    def __init__(self, channels: int, code_size: int = CODE_SIZE, eps: float = NORM_EPS):
        super().__init__()
        self.scale = nn.Linear(code_size, channels)
        self.shift = nn.Linear(code_size, channels)
        self.eps = eps

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """``x`` (1, C, H, W) normalized per channel, then scaled and shifted by ``code`` (1, 100)."""
        gamma = self.scale(code)[:, :, None, None]
        beta = self.shift(code)[:, :, None, None]
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = (x - mean).square().mean(dim=(2, 3), keepdim=True)
        return (x - mean) * (gamma * torch.rsqrt(var + self.eps)) + beta
