"""Exact tiling of the network's features, so that an image larger than memory allows can be scored.

Every loss term of Eq. 7 is a sum over feature positions (the Gram matrix G = Σ_k f_k f_kᵀ too), so it can
be accumulated tile by tile. A tile *owns* a rectangle of pixels and is computed with a halo of context
around it (:meth:`stylo.layers.Geometry.halo`, of the backbone's own geometry): wide enough that the features at
the positions it owns are exactly those of the whole image, and a multiple of the deepest layer's stride, so
that tiles keep the pooling grid.
The owned rectangles partition the image and, at every layer, its feature map. See
:class:`stylo.objective.Objective` for the two passes (Gram sums, then the gradient) built on these tiles.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from stylo.backbones import VGGFeatures, activations
from stylo.layers import Geometry


@dataclass(frozen=True)
class Tile:
    """Owned pixels ``[y0, y1) × [x0, x1)`` and the computed window ``[cy0, cy1) × [cx0, cx1)`` around them."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """The computed window of a full-size ``(…, H, W)`` image."""
        return image[..., self.cy0:self.cy1, self.cx0:self.cx1]

    def owned(self, features: torch.Tensor, step: int) -> torch.Tensor:
        """The owned positions of the window's feature map at a layer of stride ``step``."""
        top, left = (self.y0 - self.cy0) // step, (self.x0 - self.cx0) // step
        return features[..., top:(self.y1 - self.cy0) // step, left:(self.x1 - self.cx0) // step]

    def region(self, full: torch.Tensor, step: int) -> torch.Tensor:
        """The owned positions of a full-size map at a layer of stride ``step`` (targets, masks)."""
        return full[..., self.y0 // step:self.y1 // step, self.x0 // step:self.x1 // step]


def cuts(length: int, tile: int, grid: int) -> list[int]:
    """Boundaries ``0 = c_0 < … < c_n = length`` of about equal parts no longer than ``tile``, each inner one a
    multiple of ``grid``."""
    parts = max(1, -(-length // tile))
    inner = sorted({round(k * length / parts / grid) * grid for k in range(1, parts)} - {0})
    return [0, *[c for c in inner if c < length], length]


def tile_grid(height: int, width: int, tile: int, margin: int, grid: int) -> list[Tile]:
    """Tiles of at most ``tile`` × ``tile`` owned pixels covering an image, each computed with ``margin``
    pixels of context (clipped at the image's border)."""
    rows, cols = cuts(height, tile, grid), cuts(width, tile, grid)
    return [Tile(y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin),
                 max(0, x0 - margin), min(width, x1 + margin))
            for y0, y1 in zip(rows, rows[1:]) for x0, x1 in zip(cols, cols[1:])]


@dataclass(frozen=True)
class Tiling:
    """How a network's features at ``layers`` are tiled: tiles of at most ``tile`` owned pixels a side."""

    tile: int
    margin: int  # the halo, in pixels
    grid: int  # the deepest layer's stride: tile boundaries lie on it
    strides: dict[str, int]

    @classmethod
    def for_layers(cls, geometry: Geometry, layers: Sequence[str], tile: int) -> Tiling:
        """The tiling of a backbone of ``geometry`` (``net.geometry``) for ``layers``."""
        names = tuple(layers)
        grid = geometry.min_side(names)
        return cls(max(grid, tile // grid * grid), geometry.halo(names), grid,
                   {n: geometry.stride(n) for n in names})

    def needed(self, image: torch.Tensor) -> bool:
        """Whether ``image`` is larger than one tile."""
        return max(image.shape[-2:]) > self.tile

    def tiles(self, image: torch.Tensor) -> list[Tile]:
        h, w = image.shape[-2:]
        return tile_grid(h, w, self.tile, self.margin, self.grid)

    def full_size(self, image: torch.Tensor, name: str) -> tuple[int, int]:
        """(H, W) of layer ``name``'s feature map for the whole ``image``."""
        h, w = image.shape[-2:]
        step = self.strides[name]
        return h // step, w // step


def owned_features(net: VGGFeatures, image: torch.Tensor, tiling: Tiling, layers: Sequence[str],
                   autocast: torch.dtype | None) -> Iterator[tuple[Tile, dict[str, torch.Tensor]]]:
    """For each tile: the features it owns at ``layers``, computed from its window of ``image``."""
    for tile in tiling.tiles(image):
        feats = activations(net, tile.crop(image), layers, autocast)
        yield tile, {name: tile.owned(feats[name], tiling.strides[name]) for name in layers}
