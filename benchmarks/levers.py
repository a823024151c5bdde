"""Levers tried against the look issue's bar and not adopted: each against the plain default at one level.

    python benchmarks/levers.py [--pairs tubingen-kiss,astronaut-wave,rocket-matisse] [--size 256] [--steps 18]

Every lever runs the default objective at one level of ``--size`` (what the default does at 256 px) for
``--steps`` L-BFGS steps from the feed-forward start, seed 0, and is scored with stylo.metrics:

* ``plain`` — stylo's BoxLBFGS, as the default;
* ``precondition`` — L-BFGS whose initial inverse Hessian is γ·(I + Σ_k U_k U_kᵀ), U_k the bilinear upsampling
  from 1/2, 1/4, 1/8 of the size: a multi-resolution preconditioner that moves large areas as fast as pixels;
* ``average`` — the plain run's iterates averaged (bias-corrected exponential average, decay 0.5, as
  crowsonkb's style-transfer-pytorch does with Adam);
* ``lowpass`` — the plain run from the feed-forward picture's colours below 1/2 of the size plus the photo's
  detail above it (the feed-forward network's cross-hatch replaced by the photo's edges).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from look import content_image, style_image

from stylo.config import Settings
from stylo.image import fit_long_side, to_pil
from stylo.lbfgs import BoxLBFGS, Evaluate
from stylo.metrics import evaluate
from stylo.objective import Objective, compute_targets
from stylo.optimize import backbone_for, initial_image, prepare_level, upsample_with_detail
from stylo.steppers import LBFGS_HISTORY, PIXEL_SCALE

LEVERS = ("plain", "precondition", "average", "lowpass")


def multiresolution(shape: torch.Size, levels: int = 4) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ (I + Σ_k U_k U_kᵀ) v for flat images of ``shape`` (1, 3, H, W): symmetric, positive definite."""
    h, w = shape[-2:]

    def apply(v: torch.Tensor) -> torch.Tensor:
        image, out = v.view(shape), v.view(shape).clone()
        for k in range(1, levels):
            z = torch.zeros(1, 3, -(-h // 2**k), -(-w // 2**k), requires_grad=True)
            up = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
            (down,) = torch.autograd.grad(up, z, image)
            out += F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
        return out.reshape(-1)

    return apply


class PreconditionedLBFGS(BoxLBFGS):
    """BoxLBFGS with H₀ = γ·M instead of γ·I (γ = sᵀy / yᵀMy)."""

    def __init__(self, x: torch.Tensor, evaluate: Evaluate, precondition: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__(x, evaluate, 0.0, PIXEL_SCALE, history=LBFGS_HISTORY)
        self.m = precondition

    def initial(self, q: torch.Tensor) -> torch.Tensor:
        if not self.pairs:
            return super().initial(self.m(q))
        s, y, _ = self.pairs[-1]
        return self.m(q).mul_(float(torch.dot(s, y)) / float(torch.dot(y, self.m(y))))


def run(pair: str, lever: str, size: int, steps: int) -> tuple[float, float, float]:
    content_name, style_name = pair.split("-")
    content, style = content_image(content_name), style_image(style_name)
    s = Settings(seed=0, size=size)
    net = backbone_for(s)
    level = prepare_level(content, [style], [None], fit_long_side(content.size, size), 1.0, s, torch.device("cpu"),
                          16)
    objective = Objective(net, compute_targets(net, s, level.content, level.styles, None, level.masks), s, [1.0],
                          None)
    start = initial_image(level, s, 0)
    if lever == "lowpass":
        h, w = start.shape[-2:]
        half = (max(1, h // 2), max(1, w // 2))
        start = upsample_with_detail(F.interpolate(start, size=half, mode="area"),
                                     F.interpolate(level.content, size=half, mode="area"), level.content)
    x = (start * PIXEL_SCALE).contiguous()

    def fn(v: torch.Tensor) -> tuple[float, torch.Tensor, None]:
        v = v.detach().requires_grad_(True)
        total = objective(v / PIXEL_SCALE).total
        (grad,) = torch.autograd.grad(total, v)
        return total.item(), grad, None

    opt = PreconditionedLBFGS(x, fn, multiresolution(x.shape)) if lever == "precondition" else \
        BoxLBFGS(x, fn, 0.0, PIXEL_SCALE, history=LBFGS_HISTORY)
    average, weight = torch.zeros_like(x), 0.0
    for _ in range(steps):
        opt.step()
        if lever == "average":
            average, weight = average * 0.5 + x * 0.5, weight * 0.5 + 0.5
    final = average / weight if lever == "average" else x
    m = evaluate(to_pil(final / PIXEL_SCALE), content, style)
    return m.content_distance, m.style_distance_sum, m.color_distance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", default="tubingen-kiss,astronaut-wave,rocket-matisse")
    ap.add_argument("--levers", default=",".join(LEVERS))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=18)
    args = ap.parse_args(argv)
    print("| pair | lever | content | style | colour |\n| --- | --- | ---: | ---: | ---: |")
    for pair in args.pairs.split(","):
        for lever in args.levers.split(","):
            c, st, col = run(pair, lever, args.size, args.steps)
            print(f"| {pair} | {lever} | {c:.3g} | {st:.4g} | {col:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
