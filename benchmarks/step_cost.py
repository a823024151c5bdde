"""Per-step cost of stylo's objective (VGG19 forward + input-backward, Gram losses) in fp32 and bf16,
as milliseconds and achieved GFLOP/s against this machine's measured matmul peak.

    python benchmarks/step_cost.py --width 577 --height 433 [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from stylo.backbones import load_backbone
from stylo.config import Settings
from stylo.layers import layer_table
from stylo.objective import Objective, compute_targets
from stylo.steppers import evaluate


def conv_gflop(width: int, height: int, last: str) -> float:
    """Forward FLOPs of VGG19's convolutions up to ``last`` (2·Cin·Cout·9 per output position), in GFLOP."""
    flops, in_ch, w, h = 0.0, 3, width, height
    for info in layer_table("vgg19"):
        if info.kind == "conv":
            flops += 2 * in_ch * info.channels * 9 * w * h
            in_ch = info.channels
        elif info.kind == "pool":
            w, h = w // 2, h // 2
        if info.name == last:
            break
    return flops / 1e9


def gram_gflop(width: int, height: int, layers: tuple[str, ...]) -> float:
    table = {i.name: i for i in layer_table("vgg19")}
    return sum(2 * table[n].channels ** 2 * (width >> table[n].downsamples) * (height >> table[n].downsamples)
               for n in layers) / 1e9


def timeit(fn, repeat: int, device: torch.device) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 0) -> float:
    n = n or (4096 if device.type == "cuda" else 2048)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timeit(lambda: a @ b, 20 if device.type == "cuda" else 5, device) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--width", type=int, default=577)
    p.add_argument("--height", type=int, default=433)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--peak-size", type=int, default=0, help="matrix side of the matmul peak (default 2048 on CPUs)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    s = Settings()
    net = load_backbone(last="relu5_1").to(device).to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, args.height, args.width, device=device)
    style = torch.rand(1, 3, args.height, args.width, device=device)
    # forward + gradient w.r.t. the input ≈ 2 × forward for the convolutions; Gram: forward + 2 backward GEMMs
    work = 2 * conv_gflop(args.width, args.height, "relu5_1") + 3 * gram_gflop(args.width, args.height,
                                                                                 s.style_layers)
    print(f"{args.width}x{args.height} on {device}: {work:.0f} GFLOP per step (forward + input-backward)")
    print(f"{'precision':<10} {'ms/step':>9} {'GFLOP/s':>9} {'matmul peak':>12} {'of peak':>8}")
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16 if device.type == "cpu" else torch.bfloat16)):
        obj = Objective(net, compute_targets(net, s, x, [style], dtype), s, [1.0], dtype)
        sec = timeit(lambda obj=obj: evaluate(obj, x * 255.0), args.repeat, device)
        peak = matmul_peak(dtype or torch.float32, device, args.peak_size)
        print(f"{name:<10} {sec * 1e3:>9.0f} {work / sec:>9.0f} {peak:>12.0f} {work / sec / peak:>8.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
