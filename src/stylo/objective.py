"""The objective of one pyramid level: fixed targets and Eq. 7 as a function of the image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from stylo import losses
from stylo.backbones import VGGFeatures
from stylo.config import Settings, content_layer_weights, style_layer_weights


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor


@dataclass
class Targets:
    """Content activations P^l, and one dict of style Gram matrices A^l per style image."""

    content: dict[str, torch.Tensor]
    style_grams: list[dict[str, torch.Tensor]]
    # per style: its region of the output (1, 1, H, W) in [0, 1], or None for the whole image
    masks: list[torch.Tensor | None] = field(default_factory=list)
    # video: the previous stylized frame warped to this one, and where that warp can be trusted
    temporal: tuple[torch.Tensor, torch.Tensor] | None = None


def features(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], autocast: torch.dtype | None
             ) -> dict[str, torch.Tensor]:
    """Activations at ``layers`` of ``image`` (1, 3, H, W) in [0, 1], in channels_last under ``autocast``."""
    with torch.autocast(image.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        return net(image.contiguous(memory_format=torch.channels_last), list(layers))


def compute_targets(net: VGGFeatures, s: Settings, content: torch.Tensor, styles: Sequence[torch.Tensor],
                    autocast: torch.dtype | None, masks: Sequence[torch.Tensor | None] = ()) -> Targets:
    """The targets of one level, computed once without autograd. A style's Gram matrix is mean-normalized
    whenever it has a mask (masked losses compare against A/M)."""
    with torch.no_grad():
        content_feats = features(net, content, s.content_layers, autocast) if s.content_layers else {}
        targets = Targets({k: content_feats[k].float() for k in s.content_layers}, [], list(masks))
        while len(targets.masks) < len(styles):
            targets.masks.append(None)
        for style, mask in zip(styles, targets.masks):
            feats = features(net, style, s.style_layers, autocast) if s.style_layers else {}
            norm = "mean" if mask is not None else s.normalization
            targets.style_grams.append({k: losses.style_target(feats[k].float(), norm) for k in s.style_layers})
    return targets


class Objective:
    """Eq. 7 for fixed targets, as a function of the image ``(1, 3, H, W)`` RGB in [0, 1]."""

    def __init__(self, net: VGGFeatures, targets: Targets, settings: Settings, blend: Sequence[float],
                 autocast: torch.dtype | None):
        self.net, self.targets, self.s = net, targets, settings
        self.content_w = content_layer_weights(settings)
        self.style_w = style_layer_weights(settings)
        self.blend = list(blend)
        self.autocast = autocast
        self.layers = list(dict.fromkeys([*settings.content_layers, *settings.style_layers]))
        self._layer_masks: dict[tuple[int, int, int], torch.Tensor] = {}

    def layer_mask(self, style: int, like: torch.Tensor) -> torch.Tensor:
        """Style ``style``'s mask at the resolution of the feature map ``like``: area-averaged, so it follows
        the poolings down the network."""
        h, w = like.shape[-2:]
        key = (style, h, w)
        if key not in self._layer_masks:
            mask = self.targets.masks[style]
            assert mask is not None
            self._layer_masks[key] = F.interpolate(mask, size=(h, w), mode="area")
        return self._layer_masks[key]

    def style_term(self, feats: dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
        norm = self.s.normalization
        style = torch.zeros((), device=device)
        for i, (weight, grams) in enumerate(zip(self.blend, self.targets.style_grams)):
            if weight == 0:
                continue
            if self.targets.masks[i] is None:
                style = style + weight * losses.style_loss(feats, grams, self.style_w, norm)
                continue
            for name, w in self.style_w.items():
                mask = self.layer_mask(i, feats[name])
                style = style + weight * w * losses.masked_style_layer_loss(feats[name], grams[name], mask, norm)
        return style

    def __call__(self, image: torch.Tensor) -> LossParts:
        feats = features(self.net, image, self.layers, self.autocast)
        zero = torch.zeros((), device=image.device)
        content = zero
        for name, w in self.content_w.items():
            content = content + w * losses.content_loss(feats[name], self.targets.content[name], self.s.normalization)
        style = self.style_term(feats, image.device) if self.s.style_layers else zero
        tv = losses.total_variation(image) if self.s.tv_weight else zero
        total = losses.total_loss(content, style, tv, self.s.content_weight, self.s.style_weight, self.s.tv_weight)
        if self.targets.temporal is not None and self.s.temporal_weight:
            warped, mask = self.targets.temporal
            total = total + self.s.temporal_weight * losses.temporal_loss(image, warped, mask)
        return LossParts(total, content, style, tv)
