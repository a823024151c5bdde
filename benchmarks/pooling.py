"""Where stylo.layers.POOL_SCALES come from: the factor per pooling layer that keeps average and L2 pooling's
activations the size of max pooling's, so that loss weights tuned with max pooling still balance.

    python benchmarks/pooling.py [--size 384]

For each pooling kind, pooling layer by pooling layer, the factor is fitted so that the RMS activation of the
next ``relu{n}_1`` matches max pooling's, averaged over the images (three paintings and three photos). Prints
the fitted factors, then the RMS ratio to max pooling per image at relu2_1 … relu5_1: unscaled, and with
stylo's factors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from stylo.backbones import ScaledPool, VGGFeatures, load_backbone
from stylo.image import to_tensor
from stylo.layers import POOL_SCALES, Pooling

ROOT = Path(__file__).resolve().parents[1]
AFTER = ("relu2_1", "relu3_1", "relu4_1", "relu5_1")  # the first layer after each pooling


def images(size: int) -> list[torch.Tensor]:
    import skimage.data as data
    from PIL import Image

    pictures = [Image.open(ROOT / "samples" / name) for name in ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg")]
    pictures += [Image.fromarray(f()) for f in (data.astronaut, data.coffee, data.chelsea)]
    return [to_tensor(p.convert("RGB").resize((size, size * 3 // 4))) for p in pictures]


def set_scales(net: VGGFeatures, scales: list[float]) -> VGGFeatures:
    pools = [m for m in net.layers if isinstance(m, ScaledPool)]
    for pool, scale in zip(pools, scales):
        pool.scale = scale
    return net


def rms_ratios(net: VGGFeatures, reference: VGGFeatures, xs: list[torch.Tensor], layer: str) -> list[float]:
    with torch.no_grad():
        return [float((net(x, [layer])[layer].pow(2).mean() / reference(x, [layer])[layer].pow(2).mean()).sqrt())
                for x in xs]


def fit(net: VGGFeatures, reference: VGGFeatures, xs: list[torch.Tensor]) -> list[float]:
    """Pooling by pooling: scale until the next layer's mean RMS ratio is 1 (three fixed-point rounds)."""
    scales = [1.0] * len(AFTER)
    for k, layer in enumerate(AFTER):
        for _ in range(3):
            ratios = rms_ratios(set_scales(net, scales), reference, xs, layer)
            scales[k] /= sum(ratios) / len(ratios)
    return scales


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=384)
    args = ap.parse_args(argv)
    xs = images(args.size)
    reference = load_backbone(pooling="max", last="relu5_1")
    kinds: tuple[Pooling, ...] = ("avg", "l2")
    nets = {kind: load_backbone(pooling=kind, last="relu5_1") for kind in kinds}
    for kind in kinds:
        print(f"{kind}: fitted {', '.join(f'{s:.2f}' for s in fit(nets[kind], reference, xs))}; "
              f"stylo.layers.POOL_SCALES {', '.join(f'{s:.2f}' for s in POOL_SCALES[kind])}")
    print("| pooling | factors | " + " | ".join(AFTER) + " |\n| --- | --- |" + " ---: |" * len(AFTER))
    for kind in kinds:
        for label, scales in (("none", [1.0] * 4), ("stylo", list(POOL_SCALES[kind]))):
            net = set_scales(nets[kind], scales)
            cells = []
            for layer in AFTER:
                r = rms_ratios(net, reference, xs, layer)
                cells.append(f"{min(r):.2f}–{max(r):.2f}")
            print(f"| {kind} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
