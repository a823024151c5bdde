"""``stylo video --network``, measured: frames per second and the warping error of flow-warped blending.

    python benchmarks/video_network.py [--network FILE.stylo.pt] [--sizes 256 512 1024] [--frames 24]
                                       [--blends 0,0.4,0.6,0.8] [--out bench-out/video_network]

The clip is a pan over ``shared/images/tubingen.jpg`` (6 px a frame at 512 px, like docs/video_example.py); the
network is ``--network`` or, by default, one learned with ``stylo learn``'s defaults for *The Starry Night*
(trained once and kept under ``--out``; its learning time is printed). For each size and blend: seconds per
frame of the whole frame path (:func:`stylo.video.painted.paint_frames`: network, flows, blend, PNG), frames per
second, the warping error (:func:`stylo.video.flow.warping_error`), and the frames' sharpness (mean gradient
magnitude) and style distance to the network's own frame-by-frame pictures' (what the blend costs: blur). A strip
of four frames per blend is saved for a look at 100 %.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"
STYLE = SHARED / "starry_night.jpg"


def pan(frames: int, size: int) -> list[Image.Image]:
    """``frames`` crops of the Tübingen photo, 4:3, long side ``size``, moving right 6 px (at 512) a frame."""
    src = Image.open(SHARED / "tubingen.jpg").convert("RGB")
    scale = size / 512
    w, h = size, size * 3 // 4
    big = src.resize((round(src.width * scale * 1.5), round(src.height * scale * 1.5)), Image.Resampling.LANCZOS)
    step = max(1, round(6 * scale))
    top = (big.height - h) // 2
    return [big.crop((step * i, top, step * i + w, top + h)) for i in range(frames)]


def sharpness(img: Image.Image) -> float:
    a = np.asarray(img.convert("L"), dtype=np.float32)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


def cpu_kind() -> str:
    from stylo.device import cpu_has_bf16

    name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")), "?")
    return f"{name}, {torch.get_num_threads()} threads, avx512_bf16/amx: {'yes' if cpu_has_bf16() else 'no'}"


def learned_network(out: Path) -> Path:
    from stylo.learn import learn

    path = out / "starry_default.stylo.pt"
    if not path.exists():
        started = time.perf_counter()
        result = learn([STYLE], path)
        print(f"learned {path.name}: {result.steps} steps in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    from stylo.config import Settings
    from stylo.learn.network import Network
    from stylo.metrics import evaluate
    from stylo.plan import Runtime, plan_run
    from stylo.video.flow import warping_error
    from stylo.video.painted import paint_frames

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--network", type=Path)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--blends", default="0,0.4,0.6,0.8")
    p.add_argument("--out", type=Path, default=ROOT / "bench-out" / "video_network")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    blends = [float(b) for b in args.blends.split(",")]
    path = args.network or learned_network(args.out)
    print(f"# CPU: {cpu_kind()}; torch {torch.__version__}; network {path.name}", flush=True)
    print(f"{'size':>5} {'blend':>5} {'s/frame':>8} {'frames/s':>8} {'warping':>9} {'vs 0':>5} {'sharp':>6} "
          f"{'style':>9}")
    style = Image.open(STYLE).convert("RGB")
    for size in args.sizes:
        frames = pan(args.frames, size)
        s = Settings(size=size)
        plan = plan_run(s.replace(scales=1), frames[0].size, Runtime.of(s), repeatable=True)
        network = Network.load(path, plan.device, plan.autocast)
        network(frames[0])  # warm-up
        base = None
        for blend in blends:
            folder = args.out / f"{size}-{blend:g}"
            for old in folder.glob("*.png"):
                old.unlink()
            started = time.perf_counter()
            written = paint_frames(frames, network, s, folder, f"bench-{size}-{blend}", blend=blend)
            seconds = (time.perf_counter() - started) / len(written)
            outs = [Image.open(w).convert("RGB") for w in written]
            error = warping_error(frames, outs)
            base = base if base is not None else error
            sharp = np.mean([sharpness(o) for o in outs])
            styled = np.mean([evaluate(o, f, style).style_distance_sum for o, f in zip(outs[::6], frames[::6])])
            print(f"{size:>5} {blend:>5g} {seconds:>8.3f} {1 / seconds:>8.2f} {error:>9.2e} {error / base:>5.2f} "
                  f"{sharp:>6.2f} {styled:>9.3g}", flush=True)
            strip = Image.new("RGB", (outs[0].width * 4, outs[0].height))
            for k, o in enumerate(outs[-4:]):
                strip.paste(o, (k * o.width, 0))
            strip.save(args.out / f"strip-{size}-{blend:g}.png")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
