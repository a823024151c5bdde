"""``stylo learn``'s first recipe, measured: train a network for a painting with each variant (what is trained,
a colour term), then score the arbitrary network and each learned one on held-out look-panel photos at 512 px
(stylo.metrics: content distance, style distance, colour distance), time learning and painting, and save the
pictures for a look at 100 %.

    .venv/bin/python benchmarks/learn.py --style starry_night --steps 100 --out /tmp/learn_bench \
        --variant norms --variant all --variant norms:color=1

A variant is ``TRAIN[:key=value,...]`` with keys of LearnSettings (lr, color/color_weight, tv/tv_factor,
content/content_factor, crop, steps). Never trains on the panel's photos (stylo.learn.photos keeps them out).

``--panel`` is the issue's four-way table instead: for every style of the look panel (benchmarks/look.py), learn a
network with the recipe (the first ``--variant``, or stylo learn's defaults) at ``--size``, then on each of the
panel's pairs with that style compare (a) the arbitrary network's start, (b) the learned network alone, (c) the
learned network's picture + the default schedule (stylo.optimize with the network's picture as the start: the same
steps and levels as the default), (c0) the default itself, and (d) the 300-step reference: content, style and
colour distance, seconds, and a sheet per pair. The references are read from docs/images/look/results.csv (made
by benchmarks/look.py at 256 px), so (d) is there only at ``--size 256``, the panel's size:

    .venv/bin/python benchmarks/learn.py --panel --size 256 --out bench-out/learn_panel"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
STYLES = Path("/work/shared/images")
PANEL = ("tubingen", "astronaut", "coffee")


def panel_photo(name: str):
    from PIL import Image

    if name == "tubingen":
        return Image.open(ROOT / "samples" / "tubingen.jpg").convert("RGB")
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def parse_variant(text: str):
    from stylo.learn import LearnSettings

    train, _, rest = text.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        k = {"color": "color_weight", "tv": "tv_factor", "content": "content_factor"}.get(k, k)
        kwargs[k] = int(v) if k in ("crop", "steps", "seed") else float(v)
    return LearnSettings(train=train, **kwargs)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--style", default="starry_night")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--photos", nargs="*", default=list(PANEL))
    p.add_argument("--out", default="/tmp/learn_bench")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--panel", action="store_true", help="the four-way table on the look panel")
    p.add_argument("--train-photos", default=None, help="train on this folder's images instead of the bundled ones")
    p.add_argument("--styles", nargs="*", default=None, help="with --panel: only these panel styles")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.panel:
        return panel(args)

    from dataclasses import replace

    from stylo.config import Settings
    from stylo.feedforward import feedforward_image
    from stylo.image import fit_long_side, open_image, resize
    from stylo.learn import Network, learn
    from stylo.metrics import evaluate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    style_path = next(STYLES.glob(f"{args.style}.*"))
    style = open_image(style_path)
    s = Settings(size=args.size)
    photos = {n: panel_photo(n) for n in args.photos}
    photos = {n: resize(im, fit_long_side(im.size, args.size)) for n, im in photos.items()}
    rows = []

    def score(label: str, paint) -> None:
        for name, photo in photos.items():
            t = time.perf_counter()
            img = paint(photo)
            dt = time.perf_counter() - t
            img.save(out / f"{args.style}_{label}_{name}.png")
            m = evaluate(img, photo, style)
            row = {"variant": label, "photo": name, "content": m.content_distance, "style": m.style_distance_sum,
                   "color": m.color_distance, "paint_s": dt}
            rows.append(row)
            print(json.dumps(row), flush=True)

    score("arbitrary", lambda im: feedforward_image(im, [style], [1.0]))
    training = training_set(args)
    for text in args.variant or ["norms"]:
        ls = parse_variant(text)
        ls = ls if "steps=" in text else replace(ls, steps=args.steps)
        path = out / f"{args.style}_{text.replace(':', '_').replace(',', '_').replace('=', '')}.stylo.pt"
        t = time.perf_counter()
        result = learn([style_path], path, training, s, ls, checkpoint_every=1e9,
                       on_step=lambda st: print(f"  step {st.step}/{st.total_steps} loss {st.loss:.4g} "
                                                f"(content {st.content_loss:.3g}, style {st.style_loss:.3g})",
                                                file=sys.stderr, flush=True) if st.step % 20 == 0 or st.step == 1
                       else None)
        learn_s = time.perf_counter() - t
        print(json.dumps({"variant": text, "learn_s": learn_s, "steps": result.steps,
                          "first_loss": result.history[0], "last10_loss": sum(result.history[-10:]) / 10}),
              flush=True)
        network = Network.load(path)
        network(next(iter(photos.values())))  # warm up
        score(text, network)
    (out / f"{args.style}_rows.json").write_text(json.dumps(rows, indent=1))
    print("\nvariant            photo      content     style      colour  paint_s")
    for r in rows:
        print(f"{r['variant']:<18} {r['photo']:<10} {r['content']:9.4g} {r['style']:9.4g} {r['color']:9.4g} "
              f"{r['paint_s']:6.2f}")
    return 0


def training_set(args: argparse.Namespace):
    """The bundled photos, or only ``--train-photos``' folder."""
    from stylo.learn import training_photos

    return training_photos([args.train_photos], only=True) if args.train_photos else training_photos()


def panel(args: argparse.Namespace) -> int:
    import csv

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from look import PANEL, content_image, style_image, style_path

    from stylo.config import Settings
    from stylo.experiments.sheet import labelled_grid
    from stylo.feedforward import feedforward_image
    from stylo.image import fit_long_side, resize
    from stylo.learn import LearnSettings, Network, learn
    from stylo.metrics import evaluate
    from stylo.optimize import stylize_result
    from stylo.start import VideoInputs

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ls = parse_variant(args.variant[0]) if args.variant else LearnSettings()
    s = Settings(size=args.size, seed=0)
    refs = {}
    if args.size == 256:
        with (ROOT / "docs" / "images" / "look" / "results.csv").open() as fh:
            refs = {r["pair"]: r for r in csv.DictReader(fh) if r["run"] == "reference"}
    training = training_set(args)
    rows = []
    print(f"{'pair':<18} {'run':<16} {'content':>9} {'style':>9} {'colour':>6} {'s':>6}", flush=True)
    styles = [st for st in dict.fromkeys(name for _, name in PANEL) if args.styles is None or st in args.styles]
    for style_name in styles:
        path = out / f"{style_name}.stylo.pt"
        t = time.perf_counter()
        if not path.exists():
            learn([style_path(style_name)], path, training, s, ls, checkpoint_every=1e9)
            learn_s = time.perf_counter() - t
            print(f"{style_name}: learned in {learn_s:.0f} s ({ls.steps} steps, {torch.get_num_threads()} threads)",
                  flush=True)
        network = Network.load(path)
        style = style_image(style_name)
        for content_name, _ in [pair for pair in PANEL if pair[1] == style_name]:
            key = f"{content_name}-{style_name}"
            content = content_image(content_name)
            photo = resize(content, fit_long_side(content.size, s.size), s.resample)
            runs = {}
            t = time.perf_counter()
            runs["a arbitrary"] = (feedforward_image(photo, [style], [1.0]), time.perf_counter() - t)
            network(photo)  # warm
            t = time.perf_counter()
            learned = network(photo)
            runs["b learned"] = (learned, time.perf_counter() - t)
            r = stylize_result(content, style, s, video=VideoInputs(start=learned))
            runs["c learned+default"] = (r.image, r.elapsed)
            r = stylize_result(content, style, s)
            runs["c0 default"] = (r.image, r.elapsed)
            scores = {}
            for name, (image, seconds) in runs.items():
                m = evaluate(image, content, style)
                scores[name] = (m.content_distance, m.style_distance_sum, m.color_distance)
                rows.append({"pair": key, "run": name, "content": m.content_distance, "style": m.style_distance_sum,
                             "colour": m.color_distance, "seconds": round(seconds, 2)})
                print(f"{key:<18} {name:<16} {m.content_distance:>9.4g} {m.style_distance_sum:>9.4g} "
                      f"{m.color_distance:>6.2f} {seconds:>6.1f}", flush=True)
            if key in refs:
                ref = refs[key]
                scores["d reference"] = (float(ref["content_distance"]), float(ref["style_distance"]),
                                         float(ref["color_distance"]))
                print(f"{key:<18} {'d reference':<16} {scores['d reference'][0]:>9.4g} "
                      f"{scores['d reference'][1]:>9.4g} {scores['d reference'][2]:>6.2f} "
                      f"{float(ref['seconds']):>6.1f}", flush=True)
            a, b = scores["a arbitrary"], scores["b learned"]
            line = f"{key:<18} b/a content {b[0] / a[0]:.2f} style {b[1] / a[1]:.2f} colour {b[2] / a[2]:.2f}"
            if "d reference" in scores:
                d = scores["d reference"]
                for name in ("c learned+default", "c0 default"):
                    c = scores[name]
                    line += f" | {name.split()[0]}/d content {c[0] / d[0]:.2f} style {c[1] / d[1]:.2f}"
            print(line, flush=True)
            cells = [("content", photo), ("style", style)] + [(f"{n} {sec:.1f} s", im) for n, (im, sec) in runs.items()]
            labelled_grid(cells, cols=6).save(out / f"{key}.jpg", quality=90)
    (out / "panel_rows.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
