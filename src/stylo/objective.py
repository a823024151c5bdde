"""The objective of one pyramid level: fixed targets and Eq. 7 as a function of the image, a weighted sum of the
terms of stylo.terms (content, style, TV, and what a caller adds: a video frame's temporal term), scored whole or
tile by tile whatever the terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from stylo import losses
from stylo.backbones import VGGFeatures, activations
from stylo.config import Settings, content_layer_weights, style_layer_weights
from stylo.terms import Content, FeatureTerm, Partials, PixelTerm, Style, TotalVariation
from stylo.tiling import Tiling, owned_features


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


class Objective:
    """Eq. 7 for fixed targets, as a function of the image ``(1, 3, H, W)`` RGB in [0, 1]: α·content + β·style +
    tv_weight·TV (stylo.terms), plus each of ``extra``'s (term, weight).

    With ``tile`` (px), an image larger than one tile is scored tile by tile (stylo.tiling) in two passes: the
    first sums each tile's partials of every feature term (Gram matrices, the content's sum of squares) without
    keeping activations; the gradient is then the second pass, which recomputes each tile and backpropagates the
    global loss's gradient with respect to the summed partials through the features that tile owns. It is the
    untiled gradient up to float rounding; memory grows with the tile, not the image.
    """

    def __init__(self, net: VGGFeatures, targets: Targets, settings: Settings, blend: Sequence[float],
                 autocast: torch.dtype | None, tile: int | None = None,
                 extra: Sequence[tuple[FeatureTerm | PixelTerm, float]] = ()):
        s = settings
        self.net, self.targets, self.s, self.autocast = net, targets, s, autocast
        added = [t for t, _ in extra if isinstance(t, FeatureTerm)]
        self.layers = list(dict.fromkeys([*s.content_layers, *s.style_layers, *(n for t in added for n in t.layers)]))
        strides = {name: net.geometry.stride(name) for name in self.layers}
        self.tiling = Tiling.for_layers(net.geometry, self.layers, tile) if tile else None
        content = Content(targets.content, content_layer_weights(s), strides, s.normalization)
        style = Style(targets.style_grams, targets.masks, blend, style_layer_weights(s), strides, s.normalization,
                      s.style_loss == "wasserstein")
        self.feature_terms: list[FeatureTerm] = [term for term in (content, style) if term.layers] + added
        self.extra_weights = [(t.name, w) for t, w in extra if w]  # added to Eq. 7's three weighted terms
        self.pixel_terms: dict[str, tuple[PixelTerm, float]] = {
            t.name: (t, w) for t, w in ((TotalVariation(), s.tv_weight), *extra) if not isinstance(t, FeatureTerm)}

    def feature_values(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Each feature term's loss, in the order of ``feature_terms``."""
        if self.tiling is not None and self.tiling.needed(image):
            return list(_TiledTerms.apply(image, self))
        feats = features(self.net, image, self.layers, self.autocast)
        return [term.loss(term.partials(feats, image, None), image) for term in self.feature_terms]

    def tiled_partials(self, image: torch.Tensor) -> list[Partials]:
        """First pass: each feature term's partials summed over the tiles, without autograd."""
        assert self.tiling is not None
        sums: list[Partials] = [{} for _ in self.feature_terms]
        with torch.no_grad():
            for tile, owned in owned_features(self.net, image, self.tiling, self.layers, self.autocast):
                for term, total in zip(self.feature_terms, sums):
                    for key, g in term.partials(owned, image, tile).items():
                        total[key] = total[key] + g if key in total else g
        return sums

    def tiled_gradient(self, image: torch.Tensor, d_partials: Sequence[Partials]) -> torch.Tensor:
        """Second pass: ∂L/∂image, each tile's features recomputed and backpropagated on their own, given ∂L with
        respect to each term's summed partials."""
        assert self.tiling is not None
        grad = torch.zeros_like(image)
        for tile in self.tiling.tiles(image):
            with torch.enable_grad():
                crop = tile.crop(image).detach().requires_grad_(True)
                feats = features(self.net, crop, self.layers, self.autocast)
                owned = {name: tile.owned(f, self.net.geometry.stride(name)) for name, f in feats.items()}
                surrogate = crop.sum() * 0
                for term, d in zip(self.feature_terms, d_partials):
                    for key, g in term.partials(owned, image, tile).items():
                        surrogate = surrogate + (d[key] * g).sum()
                (part,) = torch.autograd.grad(surrogate, crop)
            tile.crop(grad).add_(part)
        return grad

    def __call__(self, image: torch.Tensor) -> LossParts:
        zero = torch.zeros((), device=image.device)
        values = dict(zip((term.name for term in self.feature_terms), self.feature_values(image)))
        for name, (term, weight) in self.pixel_terms.items():
            values[name] = term.loss(image) if weight else zero
        total = losses.total_loss(values.get("content", zero), values.get("style", zero), values["tv"],
                                  self.s.content_weight, self.s.style_weight, self.s.tv_weight)
        for name, weight in self.extra_weights:
            total = total + weight * values[name]
        return LossParts(total, values.get("content", zero), values.get("style", zero), values["tv"])


class _TiledTerms(torch.autograd.Function):
    """Each feature term's loss of an image scored tile by tile; the backward pass is the second pass."""

    @staticmethod
    def forward(ctx: Any, image: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, ...]:
        values, d_partials = [], []
        for term, sums in zip(objective.feature_terms, objective.tiled_partials(image)):
            with torch.enable_grad():
                leaves = {key: g.detach().requires_grad_(True) for key, g in sums.items()}
                value = term.loss(leaves, image)
                grads = torch.autograd.grad(value, list(leaves.values()), allow_unused=True) \
                    if value.requires_grad else [None] * len(leaves)
            d_partials.append({key: torch.zeros_like(leaves[key]) if d is None else d for key, d in zip(leaves, grads)})
            values.append(value.detach())
        ctx.objective, ctx.d_partials = objective, d_partials
        ctx.save_for_backward(image)
        return tuple(values)

    @staticmethod
    def backward(ctx: Any, *d_values: torch.Tensor) -> tuple[torch.Tensor, None]:
        (image,) = ctx.saved_tensors
        d_partials = [{key: dv * d for key, d in partials.items()} for dv, partials in zip(d_values, ctx.d_partials)]
        return ctx.objective.tiled_gradient(image, d_partials), None
