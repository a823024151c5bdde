"""Sweeps: the cartesian product of varied settings over base settings, one cell per combination.

Cells are keyed by a hash of their settings and inputs; a finished cell is skipped when the sweep runs
again, and a failing cell is recorded with its error while the rest go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylo import __version__
from stylo.config import FIELDS, Settings, clipped
from stylo.errors import StyloError
from stylo.events import CellEvent, OnEvent
from stylo.files import open_regular, read_bounded, shown
from stylo.image import atomic_write
from stylo.plan import run_seed
from stylo.settings_io import from_mapping, parse_text

RATIO = "ratio"  # pseudo-setting: α/β, sets style_weight = content_weight / ratio
MAX_RECORD_BYTES = 10_000_000  # a cell's JSON record (a failed one holds a traceback)
MAX_CELLS = 1000  # cells of one sweep's grid: at the default settings about 11 hours on a 2-core CPU


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: what varies (for captions), the full settings, and the input files."""

    changes: tuple[tuple[str, Any], ...]
    settings: dict[str, Any]
    content: str
    styles: tuple[str, ...]
    key: str = ""

    def label(self) -> str:
        return ", ".join(f"{k}={format_value(v)}" for k, v in self.changes) or "base"


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def coerce(name: str, raw: str) -> Any:
    """A value for setting ``name`` from its text, through the same typed parser as the CLI's flags."""
    if name == RATIO:
        try:
            value = float(raw)
        except ValueError:
            raise StyloError(f"bad value {clipped(raw)} for ratio in --vary") from None
        if not (0 < value < math.inf):
            raise StyloError(f"ratio (α/β) must be a number > 0, got {clipped(raw)}")
        return value
    if name not in FIELDS:
        raise StyloError(f"unknown setting {clipped(name)} in --vary")
    return parse_text(name, raw)


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["style_weight=1e1,1e2", "model=vgg16,vgg19"]`` → ``{"style_weight": [10.0, 100.0], ...}``."""
    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values:
            raise StyloError(f"--vary takes NAME=V1,V2,..., got {clipped(item)}")
        out[name] = [coerce(name, v.strip()) for v in values.split(",")]
    return out


def file_digest(path: str | Path) -> str:
    """The SHA-256 prefix of a regular file's bytes, read in blocks (a FIFO or a device is refused)."""
    digest = hashlib.sha256()
    with open_regular(path, "input") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def cell_key(settings: dict[str, Any], content: str, styles: Sequence[str],
             digests: dict[str, str] | None = None) -> str:
    """A cell's key: its settings and its input files' digests (``digests`` caches them by path)."""
    cache = {} if digests is None else digests

    def digest(path: str) -> str:
        if path not in cache:
            cache[path] = file_digest(path)
        return cache[path]

    blob = json.dumps({"settings": settings, "content": digest(content), "styles": [digest(s) for s in styles]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def grid_size(vary: dict[str, list[Any]]) -> int:
    return math.prod(len(values) for values in vary.values())


def check_grid(vary: dict[str, list[Any]]) -> None:
    """Refuse a grid of more than ``MAX_CELLS`` cells before building any of it."""
    count = grid_size(vary)
    if count > MAX_CELLS:
        sizes = " × ".join(str(len(values)) for values in vary.values())
        raise StyloError(f"the sweep has {count} cells ({sizes} values); at most {MAX_CELLS}: vary fewer values "
                         "or split it into several sweeps")


def expand(base: Settings, vary: dict[str, list[Any]], pairs: Sequence[tuple[str, Sequence[str]]]) -> list[Cell]:
    """One cell per (content, styles) pair × combination of varied values. Invalid combinations are errors, and
    so is a grid of more than ``MAX_CELLS`` cells; each input file is hashed once."""
    check_grid(vary)
    names = list(vary)
    cells = []
    digests: dict[str, str] = {}
    for content, styles in pairs:
        for combo in itertools.product(*(vary[n] for n in names)) if names else [()]:
            changes = dict(zip(names, combo))
            fields = {k: v for k, v in changes.items() if k != RATIO}
            settings = from_mapping(fields, base, source="--vary")
            if RATIO in changes:
                settings = settings.replace(style_weight=settings.content_weight / changes[RATIO])
            settings = settings.replace(seed=run_seed(settings.seed, repeatable=True))  # cells comparable, repeatable
            d = settings.to_dict()
            cells.append(Cell(tuple(changes.items()), d, str(content), tuple(map(str, styles)),
                              cell_key(d, str(content), [str(p) for p in styles], digests)))
    return cells


@dataclass
class CellTask:
    """What a worker needs to run one cell (picklable for process pools and Ray)."""

    cell: Cell
    out_dir: str
    threads: int = 0


def run_cell(task: CellTask) -> dict[str, Any]:
    """Stylize one cell (a :class:`~stylo.jobs.StillJob` through :func:`~stylo.jobs.run_job`), save its PNG and a
    JSON record next to it, and return the record. A failure is recorded (with its traceback) instead of ending
    the sweep."""
    import torch

    from stylo.jobs import Failed, StillJob, run_job
    from stylo.memory import PeakMemory
    from stylo.render import Rendered

    if task.threads:
        torch.set_num_threads(task.threads)
    cell, out = task.cell, Path(task.out_dir)
    record: dict[str, Any] = {"key": cell.key, "label": cell.label(), "changes": dict(cell.changes),
                              "settings": cell.settings,
                              "content": cell.content, "styles": list(cell.styles), "stylo_version": __version__}
    image_path = out / "cells" / f"{cell.key}.png"
    start = time.perf_counter()
    with PeakMemory() as peak:
        try:
            job = StillJob(Path(cell.content), tuple(map(Path, cell.styles)), image_path,
                           from_mapping(cell.settings), evaluate=True)
            outcome = run_job(job)
            if isinstance(outcome, Failed):
                record.update(status="error", error=str(outcome.error))
            else:
                done = outcome.outcome
                assert isinstance(done, Rendered)
                record.update(status="ok", image=image_path.relative_to(out).as_posix(), loss=done.result.loss,
                              steps=done.result.steps, device=done.result.device,
                              precision=done.result.precision, metrics=done.metrics)
        except StyloError as exc:  # the cell's settings themselves (from_mapping)
            record.update(status="error", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one broken cell must not end the sweep
            record.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["peak_rss_mib"] = peak.mib
    write_json(out / "cells" / f"{cell.key}.json", record)
    return record


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, default=str).encode()
    atomic_write(path, lambda fh: fh.write(text))


def finished(out: Path, cell: Cell) -> dict[str, Any] | None:
    """The record of a cell that already ran successfully, or None."""
    path = out / "cells" / f"{cell.key}.json"
    try:
        record = json.loads(read_bounded(path, "cell record", MAX_RECORD_BYTES))
    except (StyloError, ValueError, RecursionError):  # missing, not a regular file, too large, not JSON
        return None
    if not isinstance(record, dict):
        return None
    image = f"cells/{cell.key}.png"  # a record naming any other file is not this cell's
    ok = record.get("status") == "ok" and record.get("key") == cell.key and record.get("image") == image
    return record if ok and (out / image).is_file() else None


Executor = Callable[[Callable[[CellTask], dict[str, Any]], list[CellTask], Callable[[dict[str, Any]], None]], None]


RESULTS = ("results.json", "results.csv")


def planned_outputs(out: Path, cells: Sequence[Cell]) -> list[Path]:
    """Every file :func:`run_sweep` may write under ``out``."""
    return [*(out / name for name in RESULTS),
            *(out / "cells" / f"{cell.key}{ext}" for cell in cells for ext in (".png", ".json"))]


def prepare_out(out: Path) -> None:
    """Create the output folder (and its ``cells``), or a one-line error before any compute."""
    for folder in (out, out / "cells"):
        if folder.exists() and not folder.is_dir():
            raise StyloError(f"output {shown(folder)} exists and is not a folder; choose another -o")
    try:
        (out / "cells").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StyloError(f"cannot write output to {shown(out)}: {exc.strerror or exc}") from None


def run_sweep(cells: list[Cell], out: Path, executor: Executor, threads: int = 0,
              on_event: OnEvent | None = None) -> list[dict[str, Any]]:
    """Run the cells not yet finished under ``out``; write results.csv/json; return the records in cell order.

    ``on_event`` gets a :class:`~stylo.events.CellEvent` once per cell (reused: finished in an earlier run), as it
    finishes.
    Interrupted (Ctrl-C, SIGTERM: KeyboardInterrupt), the results of the cells finished so far are still written.
    """
    prepare_out(out)
    records: dict[str, dict[str, Any]] = {}
    todo: dict[str, CellTask] = {}  # by key: identical cells (e.g. the same photo twice in a batch) run once
    for cell in cells:
        done = finished(out, cell)
        if done is not None:
            records[cell.key] = done
            if on_event:
                on_event(CellEvent(done, True))
        else:
            todo.setdefault(cell.key, CellTask(cell, str(out), threads))

    def collect(record: dict[str, Any]) -> None:
        records[record["key"]] = record
        if on_event:
            on_event(CellEvent(record, False))

    try:
        if todo:
            executor(run_cell, list(todo.values()), collect)
    finally:
        ordered = [records[c.key] for c in cells if c.key in records]
        write_results(out, ordered)
    return ordered


def write_results(out: Path, records: list[dict[str, Any]]) -> None:
    write_json(out / "results.json", records)
    rows = []
    for r in records:
        row = {"key": r["key"], "label": r["label"], "status": r["status"], "content": Path(r["content"]).name,
               "styles": "+".join(Path(s).name for s in r["styles"]), "seconds": r.get("seconds"),
               "peak_rss_mib": r.get("peak_rss_mib"), "loss": r.get("loss"), "error": r.get("error", "")}
        row.update({k: format_value(v) for k, v in r["changes"].items()})
        row.update(r.get("metrics", {}))
        row.update({f"setting.{k}": "" if v is None else format_value(v) for k, v in r.get("settings", {}).items()})
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode()
    atomic_write(out / "results.csv", lambda fh: fh.write(data))

