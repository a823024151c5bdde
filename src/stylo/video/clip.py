"""A clip job (:class:`stylo.jobs.ClipJob`) from its files to its outputs, written once for every front end
(``stylo video`` and the studio's clip runs): checked before anything is read, its frames stylized through
:func:`stylo.video.pipeline.stylize_frames` (here, or in chunks on an executor: :mod:`stylo.video.chunks`), then
the video encoded, with its manifest beside it as ``OUT.json`` (each frame PNG carries its own).

A failure never clobbers an existing output: the video is written atomically, and its manifest only after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image

from stylo.errors import RunError, StyloError
from stylo.events import ClipRendered, FrameEvent, OnEvent
from stylo.files import regular_file, shown
from stylo.jobs import ClipJob
from stylo.video.encode import output_format
from stylo.video.io import Clip, is_video_file

AtOnce = Callable[[], AbstractContextManager[object]]


def frames_folder(job: ClipJob) -> Path:
    """Where the frames go: ``job.folder``, else the output folder itself, else ``OUT_frames/`` beside a video."""
    if job.folder is not None:
        return job.folder
    out = job.output
    return out.with_name(f"{out.stem}_frames") if is_video_file(out) else out


def manifest_path(video: Path) -> Path:
    """The video's manifest beside it: ``OUT.json``."""
    return video.with_suffix(".json")


def check_clip_job(job: ClipJob) -> Path:
    """Everything that can be known before anything is read, as one-line errors; returns the frames folder:
    the clip and styles are files (or the clip a folder), no output is an input, a video output is a container
    stylo can write at the job's rate and not a folder, the frames folder is apart from the input, the chunks
    fit."""
    from stylo.image import check_output_path, same_file

    source, out = job.source, job.output
    if not source.is_dir():
        regular_file(source, "video")
    for path in job.styles:
        regular_file(path, "style image")
    inputs = [source, *job.styles]
    if job.network is not None:
        regular_file(job.network, "network file")
        inputs.append(job.network)
        if job.styles:
            raise StyloError("--network paints without style images; drop the STYLE arguments "
                             "(the network file keeps its own)")
        if job.chunking is not None:
            raise StyloError("--network paints every frame here, in a fraction of a second; drop --executor and "
                             "--workers")
        if job.blend is not None and not 0 <= job.blend < 1:
            raise StyloError(f"--blend must be in [0, 1), got {job.blend:g}")
    elif not job.styles:
        raise StyloError("at least one STYLE image is needed (or --network NAME.stylo.pt)")
    outputs = [out, manifest_path(out)] if is_video_file(out) else [out]
    for output in outputs:
        for path in inputs:
            if same_file(output, path):
                raise StyloError(f"output {shown(output)} is one of the inputs; choose another name so the input "
                                 "is kept")
    if is_video_file(out):
        output_format(out, job.fps)
        if out.is_dir():
            raise StyloError(f"output {shown(out)} is a folder, not a video file")
        if manifest_path(out).is_dir():
            raise StyloError(f"the video's manifest {shown(manifest_path(out))} is a folder; choose another -o")
        check_output_path(out.with_suffix(".png"))  # the folder is writable
    folder = frames_folder(job)
    if folder.exists() and not folder.is_dir():
        raise StyloError(f"cannot keep frames in {shown(folder)}: it exists and is not a folder")
    check_apart(source, folder)
    chunks = job.chunking
    if chunks is not None and (chunks.size < 1 or not 0 <= chunks.overlap < chunks.size):
        raise StyloError("--chunk must be >= 1 and --overlap between 0 and chunk - 1")
    return folder


def check_apart(source: Path, folder: Path) -> None:
    """The frames folder is neither the input folder, nor inside it, nor around the input: input frames would
    be taken as finished frames, or stylized frames written among the input's."""
    src, frames = source.resolve(), folder.resolve()
    if frames == src:
        raise StyloError(f"the frames folder {shown(folder)} is the input folder: its frames would be taken as "
                         "finished ones; choose another -o")
    if source.is_dir() and frames.is_relative_to(src):
        raise StyloError(f"the frames folder {shown(folder)} is inside the input folder {shown(source)}; "
                         "choose another -o")
    if src.is_relative_to(frames):
        raise StyloError(f"the input {shown(source)} is inside the frames folder {shown(folder)}; "
                         "choose another -o")


def read_job_clip(job: ClipJob) -> Clip:
    from stylo.video.io import MAX_FRAMES, read_clip

    clip = read_clip(job.source, job.first, job.last, max_frames=MAX_FRAMES + 1)
    if len(clip.frames) > MAX_FRAMES:
        raise StyloError(f"the clip has more than {MAX_FRAMES} frames; stylize a part of it (--frames A:B)")
    return clip


def run_clip(job: ClipJob, emit: OnEvent, should_stop: Callable[[], bool] | None = None,
             at_once: AtOnce | None = None) -> ClipRendered:
    """Run ``job`` (see the module docstring); a stopped run returns the frames finished so far (kept for a
    rerun to resume) and writes no video."""
    from stylo.image import open_image
    from stylo.plan import run_seed
    from stylo.video.extras import require_video_extras
    from stylo.video.pipeline import check_folder, claim_folder, frames_key

    require_video_extras()
    folder = check_clip_job(job)
    if job.network is not None:
        return paint_clip(job, folder, emit, should_stop, at_once)
    started = time.perf_counter()
    styles = [open_image(p, "style image") for p in job.styles]
    clip = read_job_clip(job)
    fps = job.fps if job.fps is not None else clip.fps
    if is_video_file(job.output):
        output_format(job.output, fps)
    chunks = job.chunking
    key = frames_key(clip.frames, styles, job.settings,
                     {"first": job.first, "chunks": [chunks.size, chunks.overlap] if chunks else None})
    if chunks is not None:
        claim_folder(folder, key)
    else:
        check_folder(folder, key)  # stylize_frames writes the key with the first frame
    seed = run_seed(job.settings.seed, repeatable=True)  # the same noise for every frame, every chunk
    s = job.settings.replace(seed=seed)
    labels = job.labels or (job.source.name, *(p.name for p in job.styles))
    written = stylize(job, s, clip, styles, folder, key, labels, emit, should_stop, at_once or nullcontext)
    total = len(clip.frames)
    if len(written) < total:
        return ClipRendered(tuple(written), total, folder, None, {}, time.perf_counter() - started)
    metrics = {"warping_error": warping_error(clip, written)} if job.evaluate else {}
    from stylo.manifest import clip_manifest

    manifest = clip_manifest(s, seed, labels[0], labels[1:], total, fps, job.first, metrics,
                             time.perf_counter() - started)
    video = finish(job, clip, written, fps, folder, manifest, at_once)
    return ClipRendered(tuple(written), total, folder, video, manifest, time.perf_counter() - started, metrics)


def finish(job: ClipJob, clip: Clip, written: list[Path], fps: Fraction, folder: Path, manifest: dict[str, Any],
           at_once: AtOnce | None) -> Path | None:
    """The video from the finished frames (with the source's audio when the whole clip was stylized) and its
    manifest beside it; None when the output is a folder."""
    if not is_video_file(job.output):
        return None
    whole = job.first == 0 and job.last is None
    audio = job.source if job.audio and whole and clip.has_audio else None
    with (at_once or nullcontext)():
        encode(job.output, written, fps, audio, folder)
        write_manifest(manifest_path(job.output), manifest)
    return job.output


def paint_clip(job: ClipJob, folder: Path, emit: OnEvent, should_stop: Callable[[], bool] | None,
               at_once: AtOnce | None) -> ClipRendered:
    """A clip through a learned network (:mod:`stylo.video.painted`): the frames painted and blended along the
    flow into the keyed frames folder, then the video, as :func:`run_clip`."""
    from stylo.learn.file import sha256_of
    from stylo.learn.network import Network
    from stylo.manifest import clip_manifest
    from stylo.plan import Runtime, plan_run, run_seed
    from stylo.video.painted import BLEND, paint_frames
    from stylo.video.pipeline import frames_key

    assert job.network is not None
    started = time.perf_counter()
    seed = run_seed(job.settings.seed, repeatable=True)  # recorded; the network itself draws nothing
    s = job.settings.replace(seed=seed, scales=1)  # one pass at the full size
    blend = BLEND if job.blend is None else job.blend
    clip = read_job_clip(job)
    fps = job.fps if job.fps is not None else clip.fps
    if is_video_file(job.output):
        output_format(job.output, fps)
    digest = sha256_of(job.network)
    key = frames_key(clip.frames, [], s, {"first": job.first, "network": digest, "blend": blend})
    plan = plan_run(s, clip.frames[0].size, Runtime.of(s), repeatable=True)
    network = Network.load(job.network, plan.device, plan.autocast)
    name = (job.labels or (job.source.name,))[0]
    recorded = {"network": job.network.name, "network_sha256": digest, "blend": blend}
    total = len(clip.frames)

    def frame_manifest(i: int) -> dict[str, object]:
        from stylo import __version__

        return {"stylo_version": __version__, "settings": s.to_dict(), "content": name,
                "styles": network.style_names, **recorded, "frame": i, "frames": total,
                "source_frame": job.first + i}

    written = paint_frames(clip.frames, network, s, folder, key, emit, should_stop, blend, frame_manifest)
    if len(written) < total:
        return ClipRendered(tuple(written), total, folder, None, {}, time.perf_counter() - started)
    metrics = {"warping_error": warping_error(clip, written)} if job.evaluate else {}
    manifest = {**clip_manifest(s, seed, name, network.style_names, total, fps, job.first, metrics,
                                time.perf_counter() - started), **recorded}
    video = finish(job, clip, written, fps, folder, manifest, at_once)
    return ClipRendered(tuple(written), total, folder, video, manifest, time.perf_counter() - started, metrics)


def stylize(job: ClipJob, s: Any, clip: Clip, styles: list[Image.Image], folder: Path, key: str,
            labels: tuple[str, ...], emit: OnEvent, should_stop: Callable[[], bool] | None,
            at_once: AtOnce) -> list[Path]:
    """The frames, here (stopping after the current step) or in chunks on an executor (stopped at once)."""
    from stylo.video.pipeline import ClipLabels, stylize_frames

    names = ClipLabels(labels[0], tuple(labels[1:]), job.first)
    if job.chunking is None:
        return stylize_frames(clip.frames, styles, s, folder, emit, should_stop, key, names)
    from stylo.video.chunks import stylize_chunked

    chunks = job.chunking
    with at_once():
        written = stylize_chunked(job.source, job.first, len(clip.frames), list(job.styles), s.to_dict(), folder,
                                  chunks.executor, chunks.size, chunks.overlap, list(labels))
    for i, path in enumerate(written):
        emit(FrameEvent(i, len(written), False, 0.0, 0.0, 0.0, path, assembled=True))
    return written


def encode(out: Path, written: list[Path], fps: Fraction, audio: Path | None, folder: Path) -> None:
    """The video from the finished frames; a failed write leaves an existing ``out`` as it was, and says where
    the frames are."""
    from stylo.video.encode import write_video

    try:
        write_video((Image.open(p) for p in written), out, fps, audio_from=audio)
    except RunError as exc:
        raise RunError(f"{exc}; all {len(written)} frames are kept in {shown(folder)}") from None


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    from stylo.image import atomic_write

    text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    try:
        atomic_write(path, lambda fh: fh.write(text))
    except OSError as exc:
        raise RunError(f"cannot write the video's manifest {shown(path)}: {exc.strerror or exc}") from None


def warping_error(clip: Clip, written: list[Path]) -> float:
    """The warping error of the stylized frames against the clip's, at the stylized size."""
    from stylo.video.flow import warping_error as error

    outputs = [Image.open(p).convert("RGB") for p in written]
    return error([f.resize(outputs[0].size) for f in clip.frames], outputs)
