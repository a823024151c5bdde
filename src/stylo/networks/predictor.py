"""The style predictor: a MobileNetV2 (width 1.0) that maps a 256×256 style image to its 100-number style code
(Ghiasi et al. 2017, the distilled predictor of Magenta's TensorFlow Lite release)."""

from __future__ import annotations

import torch
from torch import nn

from stylo.networks.layers import CODE_SIZE, SameConv2d

STYLE_SIDE = 256  # the side the predictor was trained at; the code of a style is taken at this size

# (expansion, output channels, stride) of MobileNetV2's 17 inverted-residual blocks
BLOCKS: tuple[tuple[int, int, int], ...] = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def _conv(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride > 1:
        return SameConv2d(cin, cout, kernel, stride, groups=groups)
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups)


class InvertedResidual(nn.Module):
    """1×1 ``expand`` (absent at expansion 1), 3×3 ``depthwise``, both ReLU6, then a linear 1×1 ``project``;
    the input is added back when the shape allows (stride 1, same channels). Batch norms are folded in."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = _conv(cin, hidden) if expansion != 1 else None
        self.depthwise = _conv(hidden, hidden, 3, stride, groups=hidden)
        self.project = _conv(hidden, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x).clamp(0, 6)
        y = self.project(self.depthwise(y).clamp(0, 6))
        return x + y if self.residual else y


class StylePredictor(nn.Module):
    """``stem`` (3×3, stride 2), ``blocks.0``–``blocks.16``, ``head`` (1×1 to 1280), a global mean, and
    ``bottleneck`` (1280 → 100). Input (N, 3, H, W) RGB in [0, 1] (256 px square, as trained); output the style
    code, (N, 100)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, STEM_CHANNELS, 3, 2)
        blocks, cin = [], STEM_CHANNELS
        for expansion, cout, stride in BLOCKS:
            blocks.append(InvertedResidual(cin, cout, expansion, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv(cin, HEAD_CHANNELS)
        self.bottleneck = nn.Linear(HEAD_CHANNELS, CODE_SIZE)

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(style).clamp(0, 6))
        x = self.head(x).clamp(0, 6).mean(dim=(2, 3))
        return self.bottleneck(x)
