"""The objective of one pyramid level: fixed targets and Eq. 7 as a function of the image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from stylo import losses
from stylo.backbones import VGGFeatures, activations
from stylo.config import Settings, content_layer_weights, style_layer_weights
from stylo.tiling import Tile, Tiling, owned_features


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


features = activations  # the name this module's callers know


def compute_targets(net: VGGFeatures, s: Settings, content: torch.Tensor, styles: Sequence[torch.Tensor],
                    autocast: torch.dtype | None, masks: Sequence[torch.Tensor | None] = (),
                    tile: int | None = None) -> Targets:
    """The targets of one level, computed once without autograd. A style's Gram matrix is mean-normalized
    whenever it has a mask (masked losses compare against A/M). Images larger than ``tile`` px are run tile
    by tile (stylo.tiling): the content features are assembled, the Gram matrices summed."""
    with torch.no_grad():
        content_feats = _whole_features(net, content, s.content_layers, autocast, tile)
        targets = Targets({k: content_feats[k].float() for k in s.content_layers}, [], list(masks))
        while len(targets.masks) < len(styles):
            targets.masks.append(None)
        wasserstein = s.style_loss == "wasserstein"  # its targets are moments: always divided by the count
        for style, mask in zip(styles, targets.masks):
            norm = "mean" if mask is not None or wasserstein else s.normalization
            grams, positions = _gram_sums(net, style, s.style_layers, autocast, tile, wasserstein)
            targets.style_grams.append({k: grams[k] / positions[k] if norm == "mean" else grams[k]
                                        for k in s.style_layers})
    return targets


def _whole_features(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], autocast: torch.dtype | None,
                    tile: int | None) -> dict[str, torch.Tensor]:
    if not layers:
        return {}
    tiling = Tiling.for_layers(net.geometry, layers, tile) if tile else None
    if tiling is None or not tiling.needed(image):
        return {k: v.float() for k, v in activations(net, image, layers, autocast).items()}
    out: dict[str, torch.Tensor] = {}
    for t, owned in owned_features(net, image, tiling, layers, autocast):
        for name, f in owned.items():
            if name not in out:
                out[name] = torch.empty((1, f.shape[1], *tiling.full_size(image, name)), device=image.device)
            t.region(out[name], tiling.strides[name]).copy_(f)
    return out


def _gram_sums(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], autocast: torch.dtype | None,
               tile: int | None, augmented: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Raw Gram matrices Σ_k f_k f_kᵀ of ``image`` at ``layers`` (of the :func:`~stylo.losses.augment`'d
    features if ``augmented``), and the number of positions of each."""
    if not layers:
        return {}, {}
    tiling = Tiling.for_layers(net.geometry, layers, tile) if tile else None
    parts = (owned_features(net, image, tiling, layers, autocast) if tiling is not None and tiling.needed(image)
             else [(None, activations(net, image, layers, autocast))])
    grams: dict[str, torch.Tensor] = {}
    positions: dict[str, int] = dict.fromkeys(layers, 0)
    for _, feats in parts:
        for name in layers:
            g = losses.gram_matrix(losses.augment(feats[name]) if augmented else feats[name])
            grams[name] = grams[name] + g if name in grams else g
            positions[name] += feats[name].shape[-2] * feats[name].shape[-1]
    return grams, positions


GramKey = tuple[str, int | None]  # (layer, style index of a masked style; None: the unmasked features)


class Objective:
    """Eq. 7 for fixed targets, as a function of the image ``(1, 3, H, W)`` RGB in [0, 1].

    With ``tile`` (px), an image larger than one tile is scored tile by tile (stylo.tiling) in two passes: the
    first sums each tile's Gram matrices and content terms without keeping activations; the gradient is then
    the second pass, which recomputes each tile and backpropagates the global loss's gradient through the
    features that tile owns: ∂L/∂G of the summed Gram matrices, and the content term's own gradient. It is
    the untiled gradient up to float rounding; memory grows with the tile, not the image.
    """

    def __init__(self, net: VGGFeatures, targets: Targets, settings: Settings, blend: Sequence[float],
                 autocast: torch.dtype | None, tile: int | None = None):
        self.net, self.targets, self.s = net, targets, settings
        self.content_w = content_layer_weights(settings)
        self.style_w = style_layer_weights(settings)
        self.blend = list(blend)
        self.autocast = autocast
        self.layers = list(dict.fromkeys([*settings.content_layers, *settings.style_layers]))
        self.tiling = Tiling.for_layers(net.geometry, self.layers, tile) if tile else None
        self.strides = {name: net.geometry.stride(name) for name in self.layers}
        self._layer_masks: dict[tuple[int, int, int], torch.Tensor] = {}
        self.wasserstein = settings.style_loss == "wasserstein"
        self._gaussians: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def layer_mask(self, style: int, size: tuple[int, int]) -> torch.Tensor:
        """Style ``style``'s mask at a feature map's ``size`` (H, W): area-averaged, so it follows the poolings
        down the network."""
        key = (style, *size)
        if key not in self._layer_masks:
            mask = self.targets.masks[style]
            assert mask is not None
            self._layer_masks[key] = F.interpolate(mask, size=size, mode="area")
        return self._layer_masks[key]

    def _full(self, image: torch.Tensor, name: str) -> tuple[int, int]:
        h, w = image.shape[-2:]
        step = self.strides[name]
        return h // step, w // step

    def content_term(self, feats: dict[str, torch.Tensor], tile: Tile | None = None) -> torch.Tensor:
        """Σ_l w_l·L_content at the positions of ``feats``: the whole map, or the positions ``tile`` owns."""
        content = torch.zeros((), device=next(iter(feats.values())).device)
        for name, w in self.content_w.items():
            target = self.targets.content[name]
            part = target if tile is None else tile.region(target, self.strides[name])
            content = content + w * losses.content_part(feats[name], part, target.numel(), self.s.normalization)
        return content

    def style_target(self, style: int, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Wasserstein loss: the style's Gaussian (μ_s, Σ_s, Σ_s^½) at one layer, computed once."""
        key = (style, name)
        if key not in self._gaussians:
            self._gaussians[key] = losses.wasserstein_target(self.targets.style_grams[style][name])
        return self._gaussians[key]

    def gram_sums(self, feats: dict[str, torch.Tensor], image: torch.Tensor, tile: Tile | None = None
                  ) -> dict[GramKey, torch.Tensor]:
        """The raw Gram matrices the style term needs, over the positions of ``feats`` (of the features with a
        channel of ones for the Wasserstein loss, which also needs their sums)."""
        sums: dict[GramKey, torch.Tensor] = {}
        unmasked = any(m is None for w, m in zip(self.blend, self.targets.masks) if w)
        for name in self.style_w:
            f = losses.augment(feats[name]) if self.wasserstein else feats[name]
            if unmasked:
                sums[(name, None)] = losses.gram_matrix(f)
            for i, (weight, mask) in enumerate(zip(self.blend, self.targets.masks)):
                if weight and mask is not None:
                    m = self.layer_mask(i, self._full(image, name))
                    m = m if tile is None else tile.region(m, self.strides[name])
                    sums[(name, i)] = losses.gram_matrix(f * m.to(f.dtype))
        return sums

    def style_from_sums(self, sums: dict[GramKey, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """Σ_styles blend·Σ_l ω_l·E_l (Eq. 5) from the Gram matrices summed over the whole image."""
        norm = self.s.normalization
        style = torch.zeros((), device=image.device)
        for i, (weight, grams) in enumerate(zip(self.blend, self.targets.style_grams)):
            if weight == 0:
                continue
            for name, w in self.style_w.items():
                h, wd = self._full(image, name)
                if self.wasserstein:  # the moments' corner entry counts the positions (or the region's weight)
                    e = losses.wasserstein_distance(sums[(name, None if self.targets.masks[i] is None else i)],
                                                    self.style_target(i, name))
                elif self.targets.masks[i] is None:
                    e = losses.gram_distance(sums[(name, None)], h * wd, grams[name], norm)
                else:
                    area = self.layer_mask(i, (h, wd)).sum()
                    e = losses.masked_gram_distance(sums[(name, i)], area, grams[name], norm)
                style = style + weight * w * e
        return style

    def _terms(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tiling is not None and self.tiling.needed(image):
            content, style = _TiledTerms.apply(image, self)
            return content, style
        feats = features(self.net, image, self.layers, self.autocast)
        zero = torch.zeros((), device=image.device)
        content = self.content_term(feats) if self.content_w else zero
        style = self.style_from_sums(self.gram_sums(feats, image), image) if self.style_w else zero
        return content, style

    def tiled_sums(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[GramKey, torch.Tensor]]:
        """First pass: the content term and the Gram sums, tile by tile, without autograd."""
        assert self.tiling is not None
        content = torch.zeros((), device=image.device)
        sums: dict[GramKey, torch.Tensor] = {}
        with torch.no_grad():
            for tile, owned in owned_features(self.net, image, self.tiling, self.layers, self.autocast):
                if self.content_w:
                    content = content + self.content_term(owned, tile)
                for key, g in self.gram_sums(owned, image, tile).items():
                    sums[key] = sums[key] + g if key in sums else g
        return content, sums

    def tiled_gradient(self, image: torch.Tensor, d_content: torch.Tensor,
                       d_sums: dict[GramKey, torch.Tensor]) -> torch.Tensor:
        """Second pass: ∂L/∂image, each tile's features recomputed and backpropagated on their own."""
        assert self.tiling is not None
        grad = torch.zeros_like(image)
        for tile in self.tiling.tiles(image):
            with torch.enable_grad():
                crop = tile.crop(image).detach().requires_grad_(True)
                feats = features(self.net, crop, self.layers, self.autocast)
                owned = {name: tile.owned(f, self.strides[name]) for name, f in feats.items()}
                surrogate = d_content * self.content_term(owned, tile) if self.content_w else crop.sum() * 0
                for key, g in self.gram_sums(owned, image, tile).items():
                    surrogate = surrogate + (d_sums[key] * g).sum()
                (part,) = torch.autograd.grad(surrogate, crop)
            tile.crop(grad).add_(part)
        return grad

    def __call__(self, image: torch.Tensor) -> LossParts:
        content, style = self._terms(image)
        zero = torch.zeros((), device=image.device)
        tv = losses.total_variation(image) if self.s.tv_weight else zero
        total = losses.total_loss(content, style, tv, self.s.content_weight, self.s.style_weight, self.s.tv_weight)
        if self.targets.temporal is not None and self.s.temporal_weight:
            warped, mask = self.targets.temporal
            total = total + self.s.temporal_weight * losses.temporal_loss(image, warped, mask)
        return LossParts(total, content, style, tv)


class _TiledTerms(torch.autograd.Function):
    """(content term, style term) of an image scored tile by tile; the backward pass is the second pass."""

    @staticmethod
    def forward(ctx: Any, image: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        content, sums = objective.tiled_sums(image)
        with torch.enable_grad():
            leaves = {key: g.detach().requires_grad_(True) for key, g in sums.items()}
            style = objective.style_from_sums(leaves, image) if leaves else torch.zeros((), device=image.device)
            d_sums = torch.autograd.grad(style, list(leaves.values()), allow_unused=True) if leaves else ()
        ctx.objective = objective
        ctx.d_sums = {key: torch.zeros_like(leaves[key]) if d is None else d for key, d in zip(leaves, d_sums)}
        ctx.save_for_backward(image)
        return content, style.detach()

    @staticmethod
    def backward(ctx: Any, d_content: torch.Tensor, d_style: torch.Tensor) -> tuple[torch.Tensor, None]:
        (image,) = ctx.saved_tensors
        d_sums = {key: d_style * d for key, d in ctx.d_sums.items()}
        return ctx.objective.tiled_gradient(image, d_content, d_sums), None
