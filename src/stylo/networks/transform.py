"""The style transform network: paints a content image in the style that a 100-number code describes
(Ghiasi et al. 2017; the distilled, narrow transformer of Magenta's TensorFlow Lite release).

Fully convolutional with instance norms, so it runs at any size: the input is reflect-padded on the bottom
and right to a multiple of :data:`MULTIPLE` (two stride-2 convolutions, undone by two ×2 upsamplings) and the
output cropped back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylo.networks.layers import ConditionalInstanceNorm

MULTIPLE = 4  # the input side must be a multiple of this (2 × stride 2)
MIN_SIDE = 5  # below this, the reflect padding of the first 9×9 convolution has no room
RESIDUALS = 5
WIDTHS = (8, 16, 32)  # channels after conv1, conv2, conv3


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, padding_mode="reflect", bias=bias)


class Residual(nn.Module):
    """``x + norm2(conv2(relu(norm1(conv1(x)))))``, 3×3 reflect-padded convolutions. Their biases are folded
    away: an instance norm subtracts any per-channel constant."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv(channels, channels, 3, bias=False)
        self.norm1 = ConditionalInstanceNorm(channels)
        self.conv2 = _conv(channels, channels, 3, bias=False)
        self.norm2 = ConditionalInstanceNorm(channels)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x), code))
        return x + self.norm2(self.conv2(y), code)


class Upsample(nn.Module):
    """Nearest-neighbour ×2, then a 3×3 ``conv``, its conditional ``norm`` and a ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = _conv(cin, cout, 3, bias=False)
        self.norm = ConditionalInstanceNorm(cout)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2, mode="nearest")), code))


class TransformNetwork(nn.Module):
    """``conv1`` (9×9), ``conv2`` and ``conv3`` (3×3, stride 2), all ReLU (their batch norms folded in);
    ``residual1``–``residual5``; ``upsample1`` and ``upsample2``; ``conv_out`` (9×9) with ``norm_out`` and a
    sigmoid. Every norm after ``conv3`` takes its scale and shift from the style code."""

    def __init__(self) -> None:
        super().__init__()
        a, b, c = WIDTHS
        self.conv1 = _conv(3, a, 9)
        self.conv2 = _conv(a, b, 3, 2)
        self.conv3 = _conv(b, c, 3, 2)
        for i in range(1, RESIDUALS + 1):
            self.add_module(f"residual{i}", Residual(c))
        self.upsample1 = Upsample(c, b)
        self.upsample2 = Upsample(b, a)
        self.conv_out = _conv(a, 3, 9, bias=False)
        self.norm_out = ConditionalInstanceNorm(3)

    def forward(self, content: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """``content`` (1, 3, H, W) RGB in [0, 1], any H, W ≥ :data:`MIN_SIDE`; ``code`` (1, 100). Returns the
        painting, (1, 3, H, W) in [0, 1]."""
        h, w = content.shape[-2:]
        x = F.pad(content, (0, -w % MULTIPLE, 0, -h % MULTIPLE), mode="reflect")
        x = F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))
        for i in range(1, RESIDUALS + 1):
            x = self.get_submodule(f"residual{i}")(x, code)
        x = self.upsample2(self.upsample1(x, code), code)
        return torch.sigmoid(self.norm_out(self.conv_out(x), code))[..., :h, :w]
