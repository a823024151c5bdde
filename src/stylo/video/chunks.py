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


def chunk_folder(folder: Path, index: int) -> Path:
    return folder / "chunks" / f"{index:03d}"


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Stylize one chunk into its own folder (resuming what is there); runs in a worker."""
    import torch

    from stylo.config import from_mapping
    from stylo.image import open_image
    from stylo.video.io import read_clip
    from stylo.video.pipeline import stylize_frames

    if task.threads:
        torch.set_num_threads(task.threads)
    chunk = Chunk(**task.chunk)
    clip = read_clip(Path(task.source), task.first + chunk.start, task.first + chunk.end)
    styles = [open_image(Path(p), "style image") for p in task.styles]
    out = chunk_folder(Path(task.folder), chunk.index)
    written = stylize_frames(clip.frames, styles, from_mapping(task.settings), out)
    return {"chunk": chunk.index, "frames": len(written)}


def crossfade_weight(chunk: Chunk, frame: int) -> float:
    """The later chunk's share of an overlap frame: rising from 1/(n+1) to n/(n+1) over the n frames."""
    n = chunk.own - chunk.start
    return (frame - chunk.start + 1) / (n + 1)


def assemble(folder: Path, chunks: list[Chunk]) -> list[Path]:
    """The clip's frames ``folder/NNNNN.png`` from the chunks' folders, cross-fading where they overlap."""
    from stylo.video.pipeline import frame_path

    written: list[Path] = []
    for k, chunk in enumerate(chunks):
        mine = chunk_folder(folder, chunk.index)
        for frame in range(chunk.own, chunk.end):
            image = Image.open(frame_path(mine, frame - chunk.start)).convert("RGB")
            following = chunks[k + 1] if k + 1 < len(chunks) else None
            if following is not None and frame >= following.start:
                later = Image.open(frame_path(chunk_folder(folder, following.index), frame - following.start))
                image = Image.blend(image, later.convert("RGB"), crossfade_weight(following, frame))
            target = frame_path(folder, frame)
            save_png(image, target)
            written.append(target)
    return written


def stylize_chunked(source: Path, first: int, frames: int, styles: list[Path], settings: dict[str, Any],
                    folder: Path, executor: Any, size: int, overlap: int) -> list[Path]:
    """Stylize ``frames`` frames of ``source`` in chunks on ``executor``; returns the assembled frame files."""
    chunks = plan_chunks(frames, size, overlap)
    tasks = [ChunkTask(str(source), first, asdict(c), [str(p) for p in styles], settings, str(folder))
             for c in chunks]
    folder.mkdir(parents=True, exist_ok=True)
    executor(run_chunk, tasks, lambda result: None)
    return assemble(folder, chunks)
