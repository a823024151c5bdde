"""How the default's distances fall with more steps at one size: the bar of the look issue against time.

    python benchmarks/look_steps.py [--pair tubingen-kiss] [--init feedforward] [--size 256]

One level at ``--size`` from ``--init``, every other setting the default, seed 0; the picture is scored with
stylo.metrics after 6, 12, 24, 48 and 96 steps.
"""

from __future__ import annotations

import argparse
import sys

from look import content_image, style_image

from stylo.config import Settings
from stylo.metrics import evaluate
from stylo.optimize import Hooks, Step, stylize_result

MARKS = (6, 12, 24, 48, 96)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", default="tubingen-kiss")
    ap.add_argument("--init", default="feedforward")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args(argv)
    content_name, style_name = args.pair.split("-")
    content, style = content_image(content_name), style_image(style_name)
    snaps = {}

    def on_step(step: Step) -> None:
        if step.step in MARKS:
            snaps[step.step] = (step.image(), step.elapsed)

    settings = Settings(seed=0, size=args.size, init=args.init, scales=1, steps=max(MARKS))
    stylize_result(content, style, settings, Hooks(on_step=on_step))
    print("| steps | seconds | content | style | colour |\n| ---: | ---: | ---: | ---: | ---: |")
    for steps, (image, seconds) in sorted(snaps.items()):
        m = evaluate(image, content, style)
        print(f"| {steps} | {seconds:.1f} | {m.content_distance:.3g} | {m.style_distance_sum:.4g} | "
              f"{m.color_distance:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
