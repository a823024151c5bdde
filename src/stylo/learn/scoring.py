"""What ``stylo learn`` scores a painting with: stylo's own objective (:class:`stylo.objective.Objective`, the one
``stylo run`` minimizes) for a crop's content features and the painting's cached Gram matrices (:class:`Scorer`),
plus an optional colour term (:class:`ColorTerm`, a pixel term of stylo.terms' interface)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from stylo.config import Settings
from stylo.networks.transform import TransformNetwork


class ColorTerm:
    """A pixel term: the squared distance between the image's per-channel mean and standard deviation (RGB in
    [0, 1]) and fixed targets, 3 + 3 numbers: about 10⁻² for a visible shift of the palette, so a weight near
    10⁸ makes it about as large as the default style term."""

    name = "color"

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean, self.std = mean.detach(), std.detach()

    @classmethod
    def of(cls, image: torch.Tensor) -> ColorTerm:
        return cls(image.mean(dim=(2, 3)), image.std(dim=(2, 3)))

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        return ((image.mean(dim=(2, 3)) - self.mean).square().sum()
                + (image.std(dim=(2, 3)) - self.std).square().sum())


class Scorer:
    """Stylo's objective for a painting of a crop: the cached style Grams, the crop's content features."""

    def __init__(self, net: Any, s: Settings, styles: Sequence[torch.Tensor], blend: Sequence[float],
                 color_weight: float = 0.0):
        from stylo.objective import compute_targets

        self.net, self.s, self.blend, self.color_weight = net, s, list(blend), color_weight
        self.grams = compute_targets(net, s, styles[0], styles, None).style_grams

    def objective(self, crop: torch.Tensor, reference: torch.Tensor | None = None) -> Any:
        from stylo.objective import Objective, Targets, features

        with torch.no_grad():
            content = {k: v.float() for k, v in features(self.net, crop, self.s.content_layers, None).items()}
        targets = Targets(content, self.grams, [None] * len(self.grams))
        extra = []
        if self.color_weight and reference is not None:
            extra.append((ColorTerm.of(reference), self.color_weight))
        return Objective(self.net, targets, self.s, self.blend, None, extra=extra)


def crop_loss(transform: TransformNetwork, code: torch.Tensor, crop: torch.Tensor, scorer: Scorer) -> float:
    """The objective of ``transform``'s painting of ``crop`` (for held-out evaluation)."""
    with torch.no_grad():
        return scorer.objective(crop)(transform(crop, code)).total.item()
