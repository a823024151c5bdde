"""``stylo sweep``, ``stylo eval`` and batch ``stylo run`` over a folder: thin wrappers over the library."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from stylo.errors import StyloError


def add_sweep_parser(sub: Any) -> None:
    from stylo.options import add_setting_flags

    p = sub.add_parser("sweep", help="run a grid of settings, with a contact sheet and metrics")
    p.add_argument("content", metavar="CONTENT")
    p.add_argument("styles", metavar="STYLE", nargs="+")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2",
                   help="a setting and its values (repeatable; tuples join items with +; ratio=α/β)")
    p.add_argument("--sweep", metavar="TOML", help="sweep file with [base] settings and [vary] lists")
    p.add_argument("--config", metavar="TOML", help="base settings file")
    add_executor_flags(p)
    add_setting_flags(p)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--config-from", default=None, help=argparse.SUPPRESS)

    usage = "stylo eval CONTENT STYLE IMAGE [IMAGE ...]\n       stylo eval --video INPUT OUTPUT [STYLE]"
    e = sub.add_parser("eval", help="metrics of stylized images against their content and style", usage=usage)
    e.add_argument("content", metavar="CONTENT")
    e.add_argument("style", metavar="STYLE")
    e.add_argument("images", metavar="IMAGE", nargs="*")
    e.add_argument("--video", action="store_true",
                   help="INPUT OUTPUT [STYLE]: the warping error of a stylized clip (and, with STYLE, the mean "
                        "style and content distances per frame)")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_executor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=_workers, default=1,
                   help="local: processes in the pool, or auto (one per GPU; on CPUs one per 4 cores); default 1")
    p.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (default: start one here)")


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _executor(args: argparse.Namespace) -> Any:
    from stylo.experiments.executors import make_executor

    return make_executor(args.executor, args.workers, args.ray_address)


def _progress(args: argparse.Namespace, total: int) -> Any:
    count = [0]

    def report(record: dict[str, Any], reused: bool) -> None:
        count[0] += 1
        if args.quiet:
            return
        state = "finished earlier" if reused else (
            f"ok in {record['seconds']:.1f} s" if record["status"] == "ok" else f"failed: {record['error']}")
        print(f"cell {count[0]}/{total} {record['label']}: {state}", file=sys.stderr, flush=True)

    return report


def cmd_sweep(args: argparse.Namespace, base: Any) -> int:
    from stylo.config import from_mapping
    from stylo.experiments.sheet import contact_sheet
    from stylo.experiments.sweep import expand, parse_vary, run_sweep
    from stylo.image import open_image, save_png

    vary: dict[str, list[Any]] = {}
    if args.sweep:
        try:
            data = tomllib.loads(Path(args.sweep).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise StyloError(f"cannot read sweep file {args.sweep}: {exc}") from None
        base = from_mapping(data.get("base", {}), base, source=args.sweep)
        vary.update(parse_vary([f"{k}={','.join(map(_text, v))}" for k, v in data.get("vary", {}).items()]))
    vary.update(parse_vary(args.vary))
    content = open_image(args.content, "content image")
    styles = [open_image(s, "style image") for s in args.styles]
    cells = expand(base, vary, [(args.content, args.styles)])
    out = Path(args.output)
    records = run_sweep(cells, out, _executor(args), on_record=_progress(args, len(cells)))
    sheet = contact_sheet(records, out, content, styles, list(vary))
    save_png(sheet, out / "sheet.png")
    failed = [r for r in records if r["status"] != "ok"]
    if not args.quiet:
        print(f"stylo: {len(records) - len(failed)} of {len(records)} cells done; wrote {out / 'sheet.png'} and "
              f"{out / 'results.csv'}" + (f"; {len(failed)} failed" if failed else ""), file=sys.stderr)
    return 0


def _text(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


def batch_names(contents: list[Path]) -> dict[Path, str]:
    """Output file names for a folder's images: ``stem.png``, or ``stem_ext.png`` where stems collide."""
    stems: dict[str, int] = {}
    for path in contents:
        stems[path.stem.lower()] = stems.get(path.stem.lower(), 0) + 1
    return {p: f"{p.stem}_{p.suffix[1:].lower()}.png" if stems[p.stem.lower()] > 1 else f"{p.stem}.png"
            for p in contents}


def cmd_batch(args: argparse.Namespace, base: Any) -> int:
    """``stylo run FOLDER STYLE... -o OUTDIR``: every image of the folder, through the sweep's executor."""
    from stylo.experiments.sweep import expand, run_sweep
    from stylo.image import IMAGE_SUFFIXES, same_file

    folder, out = Path(args.content), Path(args.output)
    if args.masks:
        raise StyloError("--masks needs a single content image, not a folder")
    if out.suffix.lower() == ".png":
        raise StyloError(f"with a folder of content images, -o must name a folder, not {out}")
    if out.exists() and same_file(out, folder):
        raise StyloError(f"the output folder is the input folder {folder}: the results would replace the photos; "
                         "choose another -o")
    contents = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not contents:
        raise StyloError(f"no images (.jpg, .png, ...) in {folder}")
    names = batch_names(contents)
    styles = [Path(s) for s in args.styles]
    for name in names.values():
        if any(same_file(out / name, src) for src in styles):
            raise StyloError(f"output {out / name} is one of the style images; choose another -o")
    cells = expand(base, {}, [(str(p), args.styles) for p in contents])
    by_key = {r["key"]: r for r in run_sweep(cells, out, _executor(args), on_record=_progress(args, len(cells)))}
    failed = 0
    for cell, path in zip(cells, contents):  # identical files share a cell; each still gets its own output name
        record = by_key[cell.key]
        if record["status"] == "ok":
            copy_file(out / record["image"], out / names[path])
        else:
            failed += 1
    if not args.quiet:
        print(f"stylo: {len(cells) - failed} of {len(cells)} images written to {out}", file=sys.stderr)
    return 0 if not failed else 1


def copy_file(source: Path, target: Path) -> None:
    from stylo.image import atomic_write

    data = source.read_bytes()
    atomic_write(target, lambda fh: fh.write(data))


def cmd_eval(args: argparse.Namespace) -> int:
    from stylo.image import open_image
    from stylo.metrics import evaluate

    if args.video:
        from stylo.video.commands import cmd_eval_video

        return cmd_eval_video(args)
    if not args.images:
        raise StyloError("eval needs at least one IMAGE to score")
    content, style = open_image(args.content, "content image"), open_image(args.style, "style image")
    rows = {path: evaluate(open_image(path, "image"), content, style).flat() for path in args.images}
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    keys = ["ssim", "content_distance", "style_distance_sum", "color_distance"]
    print(f"{'image':<32} " + " ".join(f"{k:>19}" for k in keys))
    for path, row in rows.items():
        print(f"{Path(path).name[:32]:<32} " + " ".join(f"{row[k]:>19.4g}" for k in keys))
    return 0
