"""The look panel's default runs only (no reference, no peer), beside the default rows recorded in
docs/images/look/results.csv: each distance as a ratio to the recorded one.

    python benchmarks/look_defaults.py [--init-lowpass N] [--out /tmp/look]

Writes each output and a sheet under ``--out``. Used to re-tune the start (docs/benchmarks.md, "Round 3: the
start's size and init_lowpass").
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from look import PANEL, ROOT, content_image, style_image  # noqa: E402

from stylo.config import Settings  # noqa: E402
from stylo.experiments.sheet import labelled_grid  # noqa: E402
from stylo.metrics import evaluate  # noqa: E402
from stylo.optimize import stylize_result  # noqa: E402

RECORDED = ROOT / "docs" / "images" / "look" / "results.csv"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init-lowpass", type=int, default=None)
    p.add_argument("--out", default="/tmp/look")
    args = p.parse_args(argv)
    with RECORDED.open() as fh:
        recorded = {r["pair"]: r for r in csv.DictReader(fh) if r["run"] == "default"}
    s = Settings(size=256, seed=0)
    if args.init_lowpass is not None:
        s = s.replace(init_lowpass=args.init_lowpass)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ratios, cells = [], []
    for content_name, style_name in PANEL:
        key = f"{content_name}-{style_name}"
        content, style = content_image(content_name), style_image(style_name)
        result = stylize_result(content, style, s)
        m, old = evaluate(result.image, content, style), recorded[key]
        row = (m.content_distance / float(old["content_distance"]), m.style_distance_sum / float(old["style_distance"]),
               m.color_distance / float(old["color_distance"]))
        ratios.append((key, row))
        result.image.save(out / f"{key}-lp{s.init_lowpass}.png")
        cells.append((f"{key} lp{s.init_lowpass}", result.image))
        print(f"{key:<20} content x{row[0]:.3f} style x{row[1]:.3f} colour x{row[2]:.3f} {result.elapsed:.1f} s",
              flush=True)
    means = [sum(r[i] for _, r in ratios) / len(ratios) for i in range(3)]
    print(f"init_lowpass {s.init_lowpass}: mean content x{means[0]:.3f} style x{means[1]:.3f} colour x{means[2]:.3f}")
    print("style rose on", [key for key, r in ratios if r[1] > 1.0])
    labelled_grid(cells, cols=5).save(out / f"sheet-lp{s.init_lowpass}.jpg", quality=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
