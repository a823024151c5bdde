"""``stylo run FOLDER STYLE... -o OUTDIR``: every image of a folder, through the sweep's executor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stylo.cli.common import executor_from
from stylo.cli.sweep import Progress, check_weights, interrupted
from stylo.errors import StyloError
from stylo.events import CellEvent, Event
from stylo.files import shown


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


def batch_outputs(folder: Path, out: Path) -> dict[Path, Path]:
    """Each image of a batch's input ``folder`` and its output file in the folder ``out`` (named by
    :func:`batch_names`), or a one-line error (``out`` names a PNG, is not a folder, or is the input folder)."""
    if out.suffix.lower() == ".png":
        raise StyloError(f"with a folder of content images, -o must name a folder, not {shown(out)}")
    contents = batch_contents(folder, out)
    return {path: out / name for path, name in batch_names(contents).items()}


def cmd_batch(args: argparse.Namespace, base: Any) -> int:
    """No planned output may be an input (through a symlink or a hard link); each output is in place as soon as
    its cell finishes."""
    from stylo.experiments.sweep import expand, planned_outputs, prepare_out, run_sweep
    from stylo.files import regular_file, spare_inputs

    folder, out = Path(args.content), Path(args.output)
    if args.masks:
        raise StyloError("--masks needs a single content image, not a folder")
    outputs = batch_outputs(folder, out)
    contents = list(outputs)
    styles = [regular_file(s, "style image") for s in args.styles]
    cells = expand(base, {}, [(str(p), args.styles) for p in contents])
    check_weights(cells)
    targets: dict[str, list[Path]] = {}  # identical files share a cell; each still gets its own output name
    for cell, path in zip(cells, contents):
        targets.setdefault(cell.key, []).append(outputs[path])
    spare_inputs([*outputs.values(), *planned_outputs(out, cells)],
                 [*contents, *styles, *([Path(args.config)] if args.config else [])])
    prepare_out(out)
    progress = Progress(args, len(cells))
    placed: set[Path] = set()

    def place(event: Event) -> None:
        if isinstance(event, CellEvent) and event.record["status"] == "ok":
            for target in targets[event.record["key"]]:
                copy_file(out / event.record["image"], target)
                placed.add(target)
        progress(event)

    try:
        records = run_sweep(cells, out, executor_from(args), on_event=place)
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
