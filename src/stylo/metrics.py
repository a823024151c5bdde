"""Quantitative evaluation of a stylized image (the report wrote that no metric exists; these are ours).

* ``ssim`` — structural similarity (scikit-image) of the image's and the content's luminance, in [−1, 1]:
  1 means the same structure; higher = more of the content kept.
* ``content_distance`` — mean squared difference of VGG19 ``relu4_2`` activations (the content loss, mean
  normalization); 0 for the content image itself; lower = closer to the content.
* ``style_distance`` — per style layer (relu1_1 … relu5_1) the mean squared difference of the normalized
  Gram matrices G/M (Eq. 4, mean normalization), and ``style_distance_sum``, their sum weighted by 1/N_l²
  (the default ω_l); lower = closer to the style's textures.
* ``color_distance`` — sliced Wasserstein-1 distance between the pixel colours of image and style in CIELAB
  (ΔE-like units, 0 for identical palettes); lower = the style's palette.

Images are RGB PIL images; the image is compared with the content and the style resized to its own area.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from stylo import losses
from stylo.backbones import VGGFeatures, shared_backbone
from stylo.image import fit_area, resize, to_tensor
from stylo.layers import GATYS_CONTENT_LAYER, GATYS_STYLE_LAYERS, channels

STYLE_LAYERS = GATYS_STYLE_LAYERS
CONTENT_LAYER = GATYS_CONTENT_LAYER


@dataclass(frozen=True)
class Metrics:
    ssim: float
    content_distance: float
    style_distance: dict[str, float]
    style_distance_sum: float
    color_distance: float

    def flat(self) -> dict[str, float]:
        """One level of keys, for CSV rows."""
        row = {k: v for k, v in asdict(self).items() if k != "style_distance"}
        row.update({f"style_{k}": v for k, v in self.style_distance.items()})
        return row


def ssim_luminance(a: Image.Image, b: Image.Image) -> float:
    from skimage.metrics import structural_similarity

    ya = np.asarray(a.convert("L"), dtype=np.float64) / 255.0
    yb = np.asarray(b.convert("L").resize(a.size, Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    return float(structural_similarity(ya, yb, data_range=1.0))


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, projections: int = 64, seed: int = 0) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between projected samples
    ``x (n, d)`` and ``y (m, d)`` (compared at 256 quantiles)."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(projections, x.shape[1]))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    qs = np.linspace(0, 1, 256)
    px, py = np.quantile(x @ dirs.T, qs, axis=0), np.quantile(y @ dirs.T, qs, axis=0)
    return float(np.abs(px - py).mean())


def color_distance(image: Image.Image, style: Image.Image) -> float:
    from skimage.color import rgb2lab

    def lab(img: Image.Image) -> np.ndarray:
        small = img.copy()
        small.thumbnail((128, 128))
        return rgb2lab(np.asarray(small, dtype=np.float64) / 255.0).reshape(-1, 3)

    return sliced_wasserstein(lab(image), lab(style))


def evaluate(image: Image.Image, content: Image.Image, style: Image.Image, net: VGGFeatures | None = None
             ) -> Metrics:
    """All metrics of ``image`` against ``content`` and ``style``, in fp32 on the network's device."""
    net = net or shared_backbone(last="relu5_1")
    device = next(net.parameters()).device
    x = to_tensor(image).to(device)
    c = to_tensor(resize(content, image.size)).to(device)
    s = to_tensor(resize(style, fit_area(style.size, image.width * image.height))).to(device)
    layers = [*STYLE_LAYERS, CONTENT_LAYER]
    with torch.no_grad():
        fx, fc, fs = net(x, layers), net(c, [CONTENT_LAYER]), net(s, list(STYLE_LAYERS))
        per_layer = {k: losses.style_layer_loss(fx[k], losses.style_target(fs[k])).item() for k in STYLE_LAYERS}
        content_d = losses.content_loss(fx[CONTENT_LAYER], fc[CONTENT_LAYER]).item()
    return Metrics(
        ssim=ssim_luminance(image, content),
        content_distance=content_d,
        style_distance=per_layer,
        style_distance_sum=sum(v / channels("vgg19", k) ** 2 for k, v in per_layer.items()),
        color_distance=color_distance(image, style),
    )
