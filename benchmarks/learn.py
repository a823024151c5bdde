"""``stylo learn``'s first recipe, measured: train a network for a painting with each variant (what is trained,
a colour term), then score the arbitrary network and each learned one on held-out look-panel photos at 512 px
(stylo.metrics: content distance, style distance, colour distance), time learning and painting, and save the
pictures for a look at 100 %.

    .venv/bin/python benchmarks/learn.py --style starry_night --steps 100 --out /tmp/learn_bench \
        --variant norms --variant all --variant norms:color=1

A variant is ``TRAIN[:key=value,...]`` with keys of LearnSettings (lr, color_weight, tv_factor, crop, steps).
Never trains on the panel's photos (stylo.learn.photos keeps them out)."""

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
        k = {"color": "color_weight", "tv": "tv_factor"}.get(k, k)
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
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from dataclasses import replace

    from stylo.config import Settings
    from stylo.feedforward import feedforward_image
    from stylo.image import fit_long_side, open_image, resize
    from stylo.learn import Network, learn, training_photos
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
    training = training_photos()
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


if __name__ == "__main__":
    sys.exit(main())
