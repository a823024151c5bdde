"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer", §5).

* luminance-only transfer: stylize the luminance channels (the style's matched to the content's mean and
  deviation), then recombine the result's luminance with the content's chroma (YIQ space);
* colour histogram matching: give the style image the content's colour mean and covariance before transfer.

Images are ``(1, 3, H, W)`` RGB in [0, 1].
"""

from __future__ import annotations

import torch

# NTSC YIQ; Y is the luminance of Gatys et al. 2017.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", RGB_TO_YIQ.to(image), image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(RGB_TO_YIQ.double()).to(image), image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y of YIQ, ``(1, 1, H, W)``."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """The style's luminance shifted and scaled to the content's mean and standard deviation (Eq. 10 of 2017)."""
    return (style_y - style_y.mean()) * (content_y.std() / style_y.std().clamp_min(1e-6)) + content_y.mean()


def gray(y: torch.Tensor) -> torch.Tensor:
    """A luminance channel as the 3-channel image the network takes."""
    return y.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def recombine(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's I and Q chroma channels, back in RGB."""
    yiq = rgb_to_yiq(content).clone()
    yiq[:, :1] = luminance(stylized)
    return yiq_to_rgb(yiq).clamp(0, 1)


def mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean ``(3,)`` and covariance ``(3, 3)`` of the pixels of ``image``."""
    pixels = image.reshape(3, -1).double()
    mu = pixels.mean(dim=1)
    centred = pixels - mu[:, None]
    return mu, centred @ centred.T / pixels.shape[1]


def sqrtm(matrix: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Square root (or inverse square root) of a symmetric positive semi-definite matrix, by ``eigh``.

    (pastiche's ``Tensor.eig`` was removed from PyTorch; ``eigh`` is its maintained, symmetric counterpart.)
    """
    values, vectors = torch.linalg.eigh(matrix)
    values = values.clamp_min(1e-10)
    roots = values.rsqrt() if inverse else values.sqrt()
    return vectors @ torch.diag(roots) @ vectors.T


def match_histogram(style: torch.Tensor, content: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """The style image with the content's colour mean and covariance: x' = Σc^½ Σs^-½ (x − μs) + μc."""
    mu_s, cov_s = mean_cov(style)
    mu_c, cov_c = mean_cov(content)
    transform = sqrtm(cov_c) @ sqrtm(cov_s, inverse=True)
    pixels = style.reshape(3, -1).double()
    out = (transform @ (pixels - mu_s[:, None]) + mu_c[:, None]).reshape(style.shape).to(style.dtype)
    return out.clamp(0, 1) if clamp else out
