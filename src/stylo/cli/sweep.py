"""``stylo sweep`` (a grid of settings, a contact sheet, metrics) and ``stylo eval`` (the metrics of images, or
with ``--video`` of a clip): thin wrappers over :mod:`stylo.experiments` and :mod:`stylo.metrics`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stylo.cli.common import (
    EXIT_INTERRUPTED,
    Parser,
    add_config_flags,
    add_executor_flags,
    add_quiet_flag,
    add_setting_flags,
    executor_from,
)
from stylo.errors import StyloError
from stylo.events import CellEvent, Event
from stylo.files import shown

EVAL_USAGE = "stylo eval CONTENT STYLE IMAGE [IMAGE ...]\n       stylo eval --video IN_CLIP OUT_CLIP [STYLE]"
VIDEO_HELP = ("IN_CLIP OUT_CLIP [STYLE]: the warping error of a stylized clip (and, with STYLE, the mean style and "
              "content distances per frame)")


def add_sweep_parser(sub: Any) -> None:
    p = sub.add_parser("sweep", help="run a grid of settings, with a contact sheet and metrics")
    p.add_argument("content", metavar="CONTENT")
    p.add_argument("styles", metavar="STYLE", nargs="+")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2",
                   help="a setting and its values (repeatable; tuples join items with +; ratio=α/β)")
    p.add_argument("--sweep", metavar="TOML", help="sweep file with [base] settings and [vary] lists")
    add_config_flags(p)
    add_executor_flags(p)
    add_setting_flags(p)
    add_quiet_flag(p)


def add_eval_parser(sub: Any) -> None:
    """``stylo eval CONTENT STYLE IMAGE...``; a command line holding ``--video`` is parsed by a parser of its own,
    so a clip's arguments have their own names (``input_clip``, ``output_clip``, ``style``)."""
    video = Parser(prog="stylo eval", usage=EVAL_USAGE)
    video.add_argument("input_clip", metavar="IN_CLIP", help="the clip that was stylized (a video file or a folder)")
    video.add_argument("output_clip", metavar="OUT_CLIP", help="the stylized clip")
    video.add_argument("style", metavar="STYLE", nargs="?", help="the style image, for the per-frame distances")
    video.add_argument("--video", action="store_true", help=VIDEO_HELP)
    video.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e = sub.add_parser("eval", help="metrics of stylized images against their content and style", usage=EVAL_USAGE,
                       switch=("--video", video))
    e.add_argument("content", metavar="CONTENT")
    e.add_argument("style", metavar="STYLE")
    e.add_argument("images", metavar="IMAGE", nargs="*")
    e.add_argument("--video", action="store_true", help=VIDEO_HELP)
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")


class Progress:
    """One line per finished cell on stderr (``--quiet``: none); counts the cells finished for the final line."""

    def __init__(self, args: argparse.Namespace, total: int):
        self.quiet, self.total, self.count, self.ok = args.quiet, total, 0, 0

    def __call__(self, event: Event) -> None:
        if not isinstance(event, CellEvent):
            return
        record, reused = event.record, event.reused
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
    from stylo.experiments.sheet import contact_sheet
    from stylo.experiments.sweep import check_grid, expand, parse_vary, planned_outputs, prepare_out, run_sweep
    from stylo.files import regular_file, spare_inputs
    from stylo.image import open_image, save_png
    from stylo.settings_io import file_changes, from_mapping, read_toml

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
        records = run_sweep(cells, out, executor_from(args), on_event=progress)
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


def cmd_eval(args: argparse.Namespace) -> int:
    from stylo.image import open_image
    from stylo.metrics import evaluate

    if args.video:
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


def cmd_eval_video(args: argparse.Namespace) -> int:
    """``stylo eval --video IN_CLIP OUT_CLIP [STYLE]``: the warping error, and the mean per-frame distances."""
    from stylo.video.extras import require_video_extras

    require_video_extras()
    from stylo.metrics import evaluate
    from stylo.video.flow import warping_error
    from stylo.video.io import read_clip

    inputs, outputs = read_clip(args.input_clip).frames, read_clip(args.output_clip).frames
    n = min(len(inputs), len(outputs))
    if n < 2:
        raise StyloError("the warping error needs at least two frames in each clip")
    row: dict[str, float] = {"warping_error": warping_error(inputs[:n], outputs[:n])}
    if args.style is not None:
        from stylo.image import open_image

        style = open_image(args.style, "style image")
        scores = [evaluate(o, i, style) for i, o in zip(inputs[:n], outputs[:n])]
        row["style_distance"] = sum(m.style_distance_sum for m in scores) / n
        row["content_distance"] = sum(m.content_distance for m in scores) / n
    if args.json:
        print(json.dumps(row))
    else:
        for key, value in row.items():
            print(f"{key} {value:.6g}")
    return 0
