"""Long clips in parallel: split into chunks that overlap by a few frames, each chunk a task for an executor
of stylo.experiments.executors (a process pool, or Ray tasks on a cluster).

Chunk *k* owns frames ``[own, end)`` and also stylizes the ``overlap`` frames before them, so its temporal
chain (each frame from the previous one warped, stylo.video.pipeline) has settled by its first own frame.
Where two chunks computed a frame, the final frame cross-fades from the earlier chunk's to the later one's
over the overlap, so a chunk boundary is a gradual change, not a jump. Each chunk keeps its frames in
``FOLDER/chunks/KKK/`` and resumes from them like any clip; assembling the final frames is cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from stylo.errors import StyloError
from stylo.image import save_png


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # first frame computed (``own - overlap``, at least 0)
    own: int  # first frame this chunk owns
    end: int  # one past its last frame


def plan_chunks(frames: int, size: int, overlap: int) -> list[Chunk]:
    """Chunks of ``size`` own frames (the last may be shorter) covering ``frames`` frames."""
    own = list(range(0, frames, max(1, size)))
    return [Chunk(k, max(0, a - overlap), a, min(frames, a + size)) for k, a in enumerate(own)]


@dataclass
class ChunkTask:
    """What a worker needs to stylize one chunk: files and plain values only (it may run on another host)."""

    source: str  # the clip (video file or folder of frames)
    first: int  # frame number of the clip's frame 0 in ``source`` (``--frames A:B``)
    chunk: dict[str, int]
    styles: list[str]
    settings: dict[str, Any]
    folder: str  # the clip's frames folder
    threads: int | None = field(default=None)
    labels: list[str] = field(default_factory=list)  # the clip's name, then the styles': for the frames' manifests


def chunk_folder(folder: Path, index: int) -> Path:
    return folder / "chunks" / f"{index:03d}"


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Stylize one chunk into its own folder (resuming what is there); runs in a worker."""
    import torch

    from stylo.image import open_image
    from stylo.settings_io import from_mapping
    from stylo.video.io import read_clip
    from stylo.video.pipeline import ClipLabels, stylize_frames

    if task.threads:
        torch.set_num_threads(task.threads)
    chunk = Chunk(**task.chunk)
    clip = read_clip(Path(task.source), task.first + chunk.start, task.first + chunk.end)
    styles = [open_image(Path(p), "style image") for p in task.styles]
    out = chunk_folder(Path(task.folder), chunk.index)
    names = ClipLabels(task.labels[0] if task.labels else "clip", tuple(task.labels[1:]), task.first + chunk.start)
    written = stylize_frames(clip.frames, styles, from_mapping(task.settings), out, labels=names)
    return {"chunk": chunk.index, "frames": len(written)}


def crossfade_weight(chunk: Chunk, frame: int) -> float:
    """The later chunk's share of an overlap frame: rising from 1/(n+1) to n/(n+1) over the n frames."""
    n = chunk.own - chunk.start
    return (frame - chunk.start + 1) / (n + 1)


def assemble(folder: Path, chunks: list[Chunk], first: int = 0) -> list[Path]:
    """The clip's frames ``folder/NNNNN.png`` from the chunks' folders, cross-fading where they overlap; each with
    the manifest of the chunk frame it comes from, renumbered as a frame of the clip (``first``: the source frame
    of frame 0). A frame assembled by an earlier run is kept as it is."""
    from stylo.video.pipeline import frame_path

    written: list[Path] = []
    total = chunks[-1].end if chunks else 0
    for k, chunk in enumerate(chunks):
        mine = chunk_folder(folder, chunk.index)
        for frame in range(chunk.own, chunk.end):
            target = frame_path(folder, frame)
            written.append(target)
            if target.exists():
                continue
            source = frame_path(mine, frame - chunk.start)
            manifest = frame_manifest_of(source, frame, total, first)
            image = Image.open(source).convert("RGB")
            following = chunks[k + 1] if k + 1 < len(chunks) else None
            if following is not None and frame >= following.start:
                later = Image.open(frame_path(chunk_folder(folder, following.index), frame - following.start))
                image = Image.blend(image, later.convert("RGB"), crossfade_weight(following, frame))
            save_png(image, target, manifest)
    return written


def frame_manifest_of(path: Path, index: int, total: int, first: int) -> dict[str, Any] | None:
    """The manifest of a chunk's frame, as frame ``index`` of ``total`` of the clip (None if it has none)."""
    from stylo.image import read_manifest

    try:
        manifest = read_manifest(path)
    except StyloError:
        return None
    return {**manifest, "frame": index, "frames": total, "source_frame": first + index}


def stylize_chunked(source: Path, first: int, frames: int, styles: list[Path], settings: dict[str, Any],
                    folder: Path, executor: Any, size: int, overlap: int, labels: list[str] | None = None
                    ) -> list[Path]:
    """Stylize ``frames`` frames of ``source`` in chunks on ``executor``; returns the assembled frame files.
    ``labels`` (the clip's name, then the styles') are recorded in the frames' manifests."""
    chunks = plan_chunks(frames, size, overlap)
    tasks = [ChunkTask(str(source), first, asdict(c), [str(p) for p in styles], settings, str(folder),
                       labels=list(labels or [source.name, *(p.name for p in styles)])) for c in chunks]
    folder.mkdir(parents=True, exist_ok=True)
    executor(run_chunk, tasks, lambda result: None)
    return assemble(folder, chunks, first)
