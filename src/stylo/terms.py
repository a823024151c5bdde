"""The terms of the objective behind one interface, so that the objective, the tiling, video and training are
generic over them.

A :class:`FeatureTerm` reads the backbone's features at its ``layers``. It gives its *partials*: sums over the
feature positions it is shown (the whole map, or the positions one tile owns), which add up over tiles to those of
the whole image, and its loss as a function of the partials summed over the whole image. So a tiled run sums the
partials tile by tile without autograd, takes the loss's gradient with respect to the partials, and backpropagates
through each tile on its own (stylo.objective): the content term's partial is its share of the sum of squares, the
style terms' partials are raw Gram matrices. A :class:`PixelTerm` is a function of the image alone (TV, the
temporal term of a video frame): the image is always whole in memory, so it needs no tiling.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from stylo import losses
from stylo.losses import Normalization
from stylo.tiling import Tile

Partials = dict[Hashable, torch.Tensor]


@runtime_checkable
class FeatureTerm(Protocol):
    """A loss term on features, summable over tiles (see the module docstring)."""

    name: str
    layers: tuple[str, ...]

    def partials(self, feats: dict[str, torch.Tensor], image: torch.Tensor, tile: Tile | None) -> Partials: ...

    def loss(self, partials: Partials, image: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class PixelTerm(Protocol):
    """A loss term on the whole image (RGB in [0, 1])."""

    name: str

    def loss(self, image: torch.Tensor) -> torch.Tensor: ...


def full_size(image: torch.Tensor, stride: int) -> tuple[int, int]:
    """(H, W) of a layer's feature map for ``image``, at a layer of ``stride``."""
    h, w = image.shape[-2:]
    return h // stride, w // stride


class Content:
    """Σ_l w_l·L_content (Eq. 1, or its mean) against fixed content features P^l."""

    name = "content"

    def __init__(self, targets: dict[str, torch.Tensor], weights: dict[str, float], strides: dict[str, int],
                 normalization: Normalization):
        self.targets, self.weights, self.strides, self.normalization = targets, weights, strides, normalization
        self.layers = tuple(weights)

    def partials(self, feats: dict[str, torch.Tensor], image: torch.Tensor, tile: Tile | None) -> Partials:
        total = torch.zeros((), device=next(iter(feats.values())).device)
        for name, w in self.weights.items():
            target = self.targets[name]
            part = target if tile is None else tile.region(target, self.strides[name])
            total = total + w * losses.content_part(feats[name], part, target.numel(), self.normalization)
        return {self.name: total}

    def loss(self, partials: Partials, image: torch.Tensor) -> torch.Tensor:
        return partials[self.name]


class Style:
    """Σ_styles blend·Σ_l ω_l·E_l (Eq. 5) against each style's Gram matrices A^l, a style with a mask only over its
    region (its targets then mean-normalized); with ``wasserstein``, the 2-Wasserstein distance between Gaussians
    fitted to the features instead of E_l (its partials: the Gram matrices of the features with a channel of ones,
    which hold their sums and counts too). Partial keys: (layer, style index of a masked style, or None)."""

    name = "style"

    def __init__(self, grams: Sequence[dict[str, torch.Tensor]], masks: Sequence[torch.Tensor | None],
                 blend: Sequence[float], weights: dict[str, float], strides: dict[str, int],
                 normalization: Normalization, wasserstein: bool = False):
        self.grams, self.masks, self.blend = list(grams), list(masks), list(blend)
        self.weights, self.strides, self.normalization, self.wasserstein = weights, strides, normalization, wasserstein
        self.layers = tuple(weights)
        self._layer_masks: dict[tuple[int, int, int], torch.Tensor] = {}
        self._gaussians: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def layer_mask(self, style: int, size: tuple[int, int]) -> torch.Tensor:
        """Style ``style``'s mask at a feature map's ``size`` (H, W): area-averaged, so it follows the poolings
        down the network."""
        key = (style, *size)
        if key not in self._layer_masks:
            mask = self.masks[style]
            assert mask is not None
            self._layer_masks[key] = F.interpolate(mask, size=size, mode="area")
        return self._layer_masks[key]

    def target(self, style: int, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Wasserstein: the style's Gaussian (μ_s, Σ_s, Σ_s^½) at one layer, computed once."""
        key = (style, name)
        if key not in self._gaussians:
            self._gaussians[key] = losses.wasserstein_target(self.grams[style][name])
        return self._gaussians[key]

    def partials(self, feats: dict[str, torch.Tensor], image: torch.Tensor, tile: Tile | None) -> Partials:
        sums: Partials = {}
        unmasked = any(m is None for w, m in zip(self.blend, self.masks) if w)
        for name in self.weights:
            f = losses.augment(feats[name]) if self.wasserstein else feats[name]
            if unmasked:
                sums[(name, None)] = losses.gram_matrix(f)
            for i, (weight, mask) in enumerate(zip(self.blend, self.masks)):
                if weight and mask is not None:
                    m = self.layer_mask(i, full_size(image, self.strides[name]))
                    m = m if tile is None else tile.region(m, self.strides[name])
                    sums[(name, i)] = losses.gram_matrix(f * m.to(f.dtype))
        return sums

    def loss(self, partials: Partials, image: torch.Tensor) -> torch.Tensor:
        style = torch.zeros((), device=image.device)
        for i, (weight, grams) in enumerate(zip(self.blend, self.grams)):
            if weight == 0:
                continue
            for name, w in self.weights.items():
                h, wd = full_size(image, self.strides[name])
                if self.wasserstein:  # the moments' corner entry counts the positions (or the region's weight)
                    e = losses.wasserstein_distance(partials[(name, None if self.masks[i] is None else i)],
                                                    self.target(i, name))
                elif self.masks[i] is None:
                    e = losses.gram_distance(partials[(name, None)], h * wd, grams[name], self.normalization)
                else:
                    area = self.layer_mask(i, (h, wd)).sum()
                    e = losses.masked_gram_distance(partials[(name, i)], area, grams[name], self.normalization)
                style = style + weight * w * e
        return style


class TotalVariation:
    """The TV prior (stylo.losses.total_variation)."""

    name = "tv"

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        return losses.total_variation(image)


class Temporal:
    """Ruder et al.'s temporal term: a video frame held to the previous result warped to it, where the warp
    holds (stylo.losses.temporal_loss)."""

    name = "temporal"

    def __init__(self, warped: torch.Tensor, mask: torch.Tensor):
        self.warped, self.mask = warped, mask

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        return losses.temporal_loss(image, self.warped, self.mask)
