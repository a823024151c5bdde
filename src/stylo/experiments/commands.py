"""``stylo sweep``, ``stylo eval`` and batch ``stylo run`` over a folder: thin wrappers over the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stylo.errors import StyloError
from stylo.files import shown

EXIT_INTERRUPTED = 130


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


class Progress:
    """One line per finished cell on stderr (``--quiet``: none); counts the cells finished for the final line."""

    def __init__(self, args: argparse.Namespace, total: int):
        self.quiet, self.total, self.count, self.ok = args.quiet, total, 0, 0

    def __call__(self, record: dict[str, Any], reused: bool) -> None:
        self.count += 1
        self.ok += record["status"] == "ok"
        if self.quiet:
            return
        state = "finished earlier" if reused else (
            f"ok in {record['seconds']:.1f} s" if record["status"] == "ok" else f"failed: {record['error']}")
        print(shown(f"cell {self.count}/{self.total} {record['label']}: {state}"), file=sys.stderr, flush=True)

    def start(self, what: str) -> None:
        if not self.quiet:
            print(shown(what), file=sys.stderr, flush=True)


def interrupted(done: int, total: int, out: Path, what: str = "cells") -> int:
    """The one line after Ctrl-C or SIGTERM in a sweep or batch: what is in place, and how to continue."""
    print(shown(f"stylo: interrupted; {done} of {total} {what} finished and are in {out}; the same command "
                "continues with the rest"), file=sys.stderr)
    return EXIT_INTERRUPTED


def check_weights(cells: list[Any]) -> None:
    """Each ``weights`` file the cells name is a regular file (checked once, before any compute)."""
    from stylo.files import regular_file

    for path in {cell.settings.get("weights") for cell in cells} - {None}:
        regular_file(path, "weights file")


def cmd_sweep(args: argparse.Namespace, base: Any) -> int:
    """``stylo sweep``: everything that can be refused is refused before the first cell; each cell's image and
    record are in place as it finishes (an interrupted sweep keeps them, and results.csv lists them)."""
    from stylo.config import file_changes, from_mapping, read_toml
    from stylo.experiments.sheet import contact_sheet
    from stylo.experiments.sweep import check_grid, expand, parse_vary, planned_outputs, prepare_out, run_sweep
    from stylo.files import regular_file, spare_inputs
    from stylo.image import open_image, save_png

    vary: dict[str, list[Any]] = {}
    if args.sweep:
        data = read_toml(args.sweep, "sweep file")
        source = shown(args.sweep)
        base = from_mapping(file_changes(data.get("base", {}), f"{source} [base]"), base, source=source)
        table = data.get("vary", {})
        if not isinstance(table, dict):
            raise StyloError(f"[vary] in {source} must be a table of settings and lists of values")
        vary.update(parse_vary([f"{k}={','.join(map(_text, v if isinstance(v, list) else [v]))}"
                                for k, v in table.items()]))
    vary.update(parse_vary(args.vary))
    check_grid(vary)
    inputs = [regular_file(args.content, "content image"), *(regular_file(s, "style image") for s in args.styles)]
    cells = expand(base, vary, [(args.content, args.styles)])
    check_weights(cells)
    out = Path(args.output)
    extra = [Path(p) for p in (args.config, args.sweep) if p]
    spare_inputs([out / "sheet.png", *planned_outputs(out, cells)], [*inputs, *extra])
    prepare_out(out)
    content = open_image(args.content, "content image")
    styles = [open_image(s, "style image") for s in args.styles]
    progress = Progress(args, len(cells))
    progress.start(f"stylo: {len(cells)} cells into {out}")
    try:
        records = run_sweep(cells, out, _executor(args), on_record=progress)
    except KeyboardInterrupt:
        return interrupted(progress.ok, len(cells), out)
    sheet = contact_sheet(records, out, content, styles, list(vary))
    save_png(sheet, out / "sheet.png")
    failed = [r for r in records if r["status"] != "ok"]
    if not args.quiet:
        print(shown(f"stylo: {len(records) - len(failed)} of {len(records)} cells done; wrote {out / 'sheet.png'} "
                    f"and {out / 'results.csv'}" + (f"; {len(failed)} failed" if failed else "")), file=sys.stderr)
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


def batch_contents(folder: Path, out: Path) -> list[Path]:
    """The images of a batch's input folder, or a one-line error (the output folder is the input folder)."""
    from stylo.image import IMAGE_SUFFIXES, same_file

    if out.exists() and same_file(out, folder):
        raise StyloError(f"the output folder is the input folder {shown(folder)}: the results would replace the "
                         "photos; choose another -o")
    if out.exists() and not out.is_dir():
        raise StyloError(f"output {shown(out)} exists and is not a folder; choose another -o")
    try:
        contents = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as exc:
        raise StyloError(f"cannot list the folder {shown(folder)}: {exc.strerror or exc}") from None
    if not contents:
        raise StyloError(f"no images (.jpg, .png, ...) in {shown(folder)}")
    return contents


def cmd_batch(args: argparse.Namespace, base: Any) -> int:
    """``stylo run FOLDER STYLE... -o OUTDIR``: every image of the folder, through the sweep's executor. No
    planned output may be an input (through a symlink or a hard link); each output is in place as soon as its
    cell finishes."""
    from stylo.experiments.sweep import expand, planned_outputs, prepare_out, run_sweep
    from stylo.files import regular_file, spare_inputs

    folder, out = Path(args.content), Path(args.output)
    if args.masks:
        raise StyloError("--masks needs a single content image, not a folder")
    if out.suffix.lower() == ".png":
        raise StyloError(f"with a folder of content images, -o must name a folder, not {shown(out)}")
    contents = batch_contents(folder, out)
    names = batch_names(contents)
    styles = [regular_file(s, "style image") for s in args.styles]
    cells = expand(base, {}, [(str(p), args.styles) for p in contents])
    check_weights(cells)
    targets: dict[str, list[Path]] = {}  # identical files share a cell; each still gets its own output name
    for cell, path in zip(cells, contents):
        targets.setdefault(cell.key, []).append(out / names[path])
    spare_inputs([*(out / name for name in names.values()), *planned_outputs(out, cells)],
                 [*contents, *styles, *([Path(args.config)] if args.config else [])])
    prepare_out(out)
    progress = Progress(args, len(cells))
    placed: set[Path] = set()

    def place(record: dict[str, Any], reused: bool) -> None:
        if record["status"] == "ok":
            for target in targets[record["key"]]:
                copy_file(out / record["image"], target)
                placed.add(target)
        progress(record, reused)

    try:
        records = run_sweep(cells, out, _executor(args), on_record=place)
    except KeyboardInterrupt:
        return interrupted(len(placed), len(contents), out, "images")
    by_key = {r["key"]: r for r in records}
    failed = sum(by_key[cell.key]["status"] != "ok" for cell in cells)
    if not args.quiet:
        print(shown(f"stylo: {len(contents) - failed} of {len(contents)} images written to {out}"), file=sys.stderr)
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
    images = {path: open_image(path, "image") for path in args.images}  # every input is checked before any metric
    rows = {path: evaluate(image, content, style).flat() for path, image in images.items()}
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    keys = ["ssim", "content_distance", "style_distance_sum", "color_distance"]
    print(f"{'image':<32} " + " ".join(f"{k:>19}" for k in keys))
    for path, row in rows.items():
        print(f"{shown(Path(path).name)[:32]:<32} " + " ".join(f"{row[k]:>19.4g}" for k in keys))
    return 0
