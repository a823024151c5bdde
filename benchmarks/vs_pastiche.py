"""pastiche vs stylo on the same images, same output size and the same objective, one after the other.

    python benchmarks/vs_pastiche.py --content ../shared/images/tubingen.jpg \
        --style ../shared/images/starry_night.jpg --size-pixels 250000 --pastiche-steps 300

Both CLIs run as whole processes (start-up included). Both saved PNGs are scored with pastiche's own
objective through pastiche's own code. The last line reads ``speedup X.X loss_ratio Y.YY``
(pastiche time / stylo time; stylo loss / pastiche loss).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pastiche_objective import PASTICHE_AS_STYLO, pastiche_loss, pastiche_size  # noqa: E402


@dataclass
class Run:
    name: str
    wall_s: float
    peak_mib: float
    steps: str
    loss: float = float("nan")


def timed(cmd: list[str], name: str, steps: str) -> Run:
    """Run ``cmd``; wall time and this child's own peak resident memory (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed: {' '.join(cmd)}")
    return Run(name, wall, usage.ru_maxrss / 1024, steps)


def stylo_objective_flags() -> list[str]:
    o = PASTICHE_AS_STYLO
    return [
        "--normalization", str(o["normalization"]), "--content-layers", *o["content_layers"],
        "--content-weight", str(o["content_weight"]), "--style-layers", *o["style_layers"],
        "--style-layer-weights", *[repr(w) for w in o["style_layer_weights"]],
        "--style-weight", str(o["style_weight"]), "--tv-weight", "0", "--resample", str(o["resample"]),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", type=Path, required=True)
    p.add_argument("--style", type=Path, required=True)
    p.add_argument("--size-pixels", type=int, default=500**2)
    p.add_argument("--pastiche-steps", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("bench-out"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-pastiche", type=Path, metavar="PNG", help="reuse a pastiche output and its time")
    p.add_argument("--pastiche-time", type=float, help="with --skip-pastiche: its measured wall time")
    p.add_argument("stylo_args", nargs="*", help="extra stylo flags after --, e.g. -- --steps 30")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    w, h = pastiche_size(args.content, args.size_pixels)
    runs = []

    pastiche_png = args.out / "pastiche.png"
    if args.skip_pastiche:
        pastiche_png = args.skip_pastiche
        runs.append(Run("pastiche 1.6.0 (earlier run)", args.pastiche_time or float("nan"), float("nan"),
                        str(args.pastiche_steps)))
    else:
        cmd = [sys.executable, "-m", "pastiche", "--content", str(args.content), "--styles", str(args.style),
               "--output", str(pastiche_png), "--size-pixels", str(args.size_pixels), "--num-steps",
               str(args.pastiche_steps), "--seed", "0", "--device", args.device, "--no-verbose"]
        runs.append(timed(cmd, "pastiche 1.6.0", str(args.pastiche_steps)))
    runs[-1].loss = pastiche_loss(args.content, args.style, pastiche_png, args.size_pixels)

    stylo_png = args.out / "stylo.png"
    cmd = [sys.executable, "-m", "stylo", "run", str(args.content), str(args.style), "-o", str(stylo_png),
           "--size", str(max(w, h)),
           "--seed", "0", "--device", args.device, "--quiet", *stylo_objective_flags(), *args.stylo_args]
    from stylo.config import Settings

    d = Settings()
    steps = f"{d.coarse_steps}x{d.scales - 1} coarse + {d.steps} (defaults)"
    runs.append(timed(cmd, "stylo", " ".join(args.stylo_args) or steps))
    runs[-1].loss = pastiche_loss(args.content, args.style, stylo_png, args.size_pixels)

    print(f"content {args.content.name}, style {args.style.name}, {w}x{h} px, device {args.device}")
    print(f"{'tool':<30} {'wall s':>8} {'peak MiB':>9} {'loss (pastiche objective)':>26}  steps")
    for r in runs:
        print(f"{r.name:<30} {r.wall_s:>8.1f} {r.peak_mib:>9.0f} {r.loss:>26.1f}  {r.steps}")
    speedup = runs[0].wall_s / runs[1].wall_s
    print(f"speedup {speedup:.1f} loss_ratio {runs[1].loss / runs[0].loss:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
