"""The README's video example: a slow pan over the Tübingen photo, stylized as a clip (every default).

    python docs/video_example.py [--frames 16] [--size 256] [--out docs/images/video]

Writes pan.gif (the stylized clip), strip.jpg (six consecutive frames side by side, to look for boiling on the
static buildings) and clip.mp4. The photo is shared/images/tubingen.jpg (or the bundled sample).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from PIL import Image

from stylo.config import Settings
from stylo.video.encode import write_video
from stylo.video.pipeline import stylize_frames

ROOT = Path(__file__).resolve().parents[1]


def pan(frames: int, step: int = 6) -> list[Image.Image]:
    path = ROOT.parent / "shared" / "images" / "tubingen.jpg"
    src = Image.open(path if path.exists() else ROOT / "samples" / "tubingen.jpg").convert("RGB")
    src = src.resize((640, 480), Image.Resampling.LANCZOS)
    w, h = 480, 360
    return [src.crop((step * i, 60, step * i + w, 60 + h)) for i in range(frames)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "video")
    args = ap.parse_args(argv)
    style = Image.open(ROOT / "samples" / "starry_night.jpg").convert("RGB")
    frames = pan(args.frames)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = stylize_frames(frames, [style], Settings(size=args.size, seed=0), Path(tmp))
        out = [Image.open(p).convert("RGB") for p in paths]
    seconds = time.perf_counter() - start
    out[0].save(args.out / "pan.gif", save_all=True, append_images=out[1:], duration=125, loop=0)
    write_video(out, args.out / "clip.mp4", Fraction(8))
    strip = Image.new("RGB", (out[0].width * 6, out[0].height))
    for i, frame in enumerate(out[:6]):
        strip.paste(frame, (i * frame.width, 0))
    strip.save(args.out / "strip.jpg", quality=85)
    print(f"{len(out)} frames at {out[0].size[0]}x{out[0].size[1]} in {seconds:.0f} s "
          f"({seconds / len(out):.1f} s a frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
