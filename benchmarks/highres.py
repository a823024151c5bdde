"""High-resolution benchmark: peak RSS and seconds per full-size step, tiled and untiled, per output size.

    python benchmarks/highres.py [--sizes 512 1024 2048 4096] [--big] [--max-memory 3G] [--device cpu]

Each row is one run in its own process (Tübingen × The Starry Night from shared/images, 4:3, seed 0, every
default but ``--steps 2 --coarse-steps 2``): its peak RSS is read from ``wait4``, its seconds per full-size
step from its last level's steps. Where the whole image fits the budget, a row runs untiled and a second
forces tiles (``tile``); where it does not, the budget's own plan runs. ``--big`` adds 8192 px.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from stylo.budget import GIB, budget_bytes, plan, untiled_bytes
from stylo.layers import GATYS_STYLE_LAYERS, halo

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"


def images() -> tuple[Path, Path]:
    content, style = SHARED / "tubingen.jpg", SHARED / "starry_night.jpg"
    if not content.exists():
        content, style = ROOT / "samples" / "tubingen.jpg", ROOT / "samples" / "starry_night.jpg"
    return content, style


CHILD = """
import json, sys
from PIL import Image
from stylo.config import Settings
from stylo.optimize import Hooks, stylize_result
content, style, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
times = []
result = stylize_result(Image.open(content), Image.open(style), Settings(**settings),
                        Hooks(on_step=lambda s: times.append((s.scale, s.scales, s.elapsed))))
last = [t for level, levels, t in times if level == levels]
print(json.dumps({"per_step": (last[-1] - last[0]) / (len(last) - 1), "seconds": result.elapsed}))
"""


def run(size: int, tile: int | None, budget: str | None, device: str) -> tuple[float, float]:
    """(peak RSS in GiB from wait4, seconds per full-size step) of one run in its own process."""
    content, style = images()
    settings = {"size": size, "steps": 2, "coarse_steps": 2, "seed": 0, "max_memory": budget, "device": device,
                "tile": tile}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(content), str(style), json.dumps(settings)],
                                stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            lines = err.read().strip().splitlines() or [f"exit status {proc.returncode}"]
            raise SystemExit(f"size {size}: {lines[-1]}")
    return usage.ru_maxrss * 1024 / GIB, json.loads(out)["per_step"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    ap.add_argument("--big", action="store_true", help="add 8192 px")
    ap.add_argument("--max-memory", default=None, help="the budget (default: stylo's, 30 %% of RAM)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    sizes = [*args.sizes, *([8192] if args.big else [])]
    budget = budget_bytes(args.max_memory)
    print(f"budget {budget / GIB:.1f} GiB; peak RSS from wait4; seconds per step of the last (full-size) level")
    print("| size | mode | peak RSS (GiB) | s / full-size step |")
    print("| ---: | --- | ---: | ---: |")
    margin = halo("vgg19", GATYS_STYLE_LAYERS)
    for size in sizes:
        w, h = size, size * 3 // 4
        chosen = plan(w, h, budget, margin)
        if chosen is None:
            print(f"| {size} | does not fit the budget | | |")
            continue
        rows = [(None, "untiled")] if chosen.tile is None else \
            [(None, f"over budget untiled ({untiled_bytes(w * h) / GIB:.1f} GiB); tiled by the budget: "
                    f"{chosen.tile} px, {chosen.history} pairs")]
        if chosen.tile is None:
            rows.append((min(1024, size // 2), f"tiled: {min(1024, size // 2)} px (--tile)"))
        for tile, how in rows:
            rss, per_step = run(size, tile, args.max_memory, args.device)
            print(f"| {size} | {how} | {rss:.2f} | {per_step:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
