"""Video benchmark: seconds per frame, and the warping error with and without the temporal term.

    python benchmarks/video.py [--sizes 256 512] [--frames 6] [--device cpu]

The clip is a pan over the Tübingen sample (8 px per frame at 512 px), so its flow is known and the same
clip serves every size. Prints one row per size and temporal weight; the first frame (full schedule) is
reported apart from the later ones (a short full-size run each).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from stylo.config import Settings
from stylo.metrics import evaluate
from stylo.video.flow import warping_error
from stylo.video.pipeline import FrameDone, stylize_frames

ROOT = Path(__file__).resolve().parents[1]


def pan(n: int, size: int) -> list[Image.Image]:
    src = Image.open(ROOT / "samples" / "tubingen.jpg").convert("RGB")
    w, h = round(src.width * 0.75), round(src.height * 0.75)
    step = max(1, (src.width - w) // max(1, n))
    return [src.crop((step * i, 0, step * i + w, h)).resize((size, round(size * h / w)), Image.Resampling.LANCZOS)
            for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    style = Image.open(ROOT / "samples" / "starry_night.jpg").convert("RGB")
    base = Settings(seed=0, device=args.device)
    print(f"{'size':>5} {'temporal':>9} {'first s':>8} {'later s/frame':>14} {'warping error':>14} {'style':>9}")
    for size in args.sizes:
        frames = pan(args.frames, size)
        for weight in (base.temporal_weight, 0.0):
            folder = Path(tempfile.mkdtemp(prefix="stylo-video-"))
            times: list[float] = []
            start = time.perf_counter()
            paths = stylize_frames(frames, [style], base.replace(size=size, temporal_weight=weight), folder,
                                   lambda d, times=times: times.append(d.seconds) if isinstance(d, FrameDone) else None)
            outs = [Image.open(q).convert("RGB") for q in paths]
            style_d = sum(evaluate(o, f, style).style_distance_sum for o, f in zip(outs, frames)) / len(outs)
            later = sum(times[1:]) / max(1, len(times) - 1)
            print(f"{size:>5} {weight:>9.3g} {times[0]:>8.1f} {later:>14.1f} {warping_error(frames, outs):>14.3g} "
                  f"{style_d:>9.3g}  ({time.perf_counter() - start:.0f} s in all)", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
