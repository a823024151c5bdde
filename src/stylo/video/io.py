"""Clips in: a video file (PyAV: any container FFmpeg reads) or a folder of frames (PNG/JPEG, in name order).
Clips out: :mod:`stylo.video.encode`.

A clip is held in memory as RGB frames, so its size is checked from the container's header before any frame is
decoded (:func:`probe_clip`) and again on every decoded frame (a header can lie): each frame at most the image
decoder's :data:`~stylo.image.MAX_PIXELS`, the whole clip at most :data:`MAX_CLIP_PIXELS`. Only regular files
are opened: a FIFO or a device is refused instead of blocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image

from stylo.errors import StyloError
from stylo.files import regular_file, shown
from stylo.image import IMAGE_SUFFIXES, MAX_PIXELS, decode_image

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif"}
DEFAULT_FPS = Fraction(24)
MIN_FPS, MAX_FPS = Fraction(1, 1000), Fraction(240)
MAX_FRAMES = 10_000
MAX_CLIP_PIXELS = 1_000_000_000  # frames × pixels held in memory at once: 3 GB as RGB


@dataclass
class Clip:
    frames: list[Image.Image]
    fps: Fraction
    source: Path
    has_audio: bool = False


@dataclass(frozen=True)
class ClipInfo:
    """What a video file's header says, before any frame is decoded."""

    width: int
    height: int
    frames: int | None  # the stream's frame count; None where the container does not record it
    fps: Fraction  # DEFAULT_FPS where the header has none or one outside [MIN_FPS, MAX_FPS]
    has_audio: bool


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def parse_fps(text: str) -> Fraction:
    """A frame rate such as ``24``, ``29.97`` or ``30000/1001``: a positive rational in [MIN_FPS, MAX_FPS]."""
    try:
        fps = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise StyloError(f"fps must be a number such as 24, 29.97 or 30000/1001, got {text!r}") from None
    if not MIN_FPS <= fps <= MAX_FPS:
        raise StyloError(f"fps must be between {MIN_FPS} and {MAX_FPS} frames per second, got {text!r}")
    return fps.limit_denominator(1001) if fps.denominator > 1001 else fps


def _too_large(name: str, width: int, height: int, max_pixels: int) -> StyloError:
    return StyloError(f"the frames of {name} are too large to decode safely: {width}x{height} px "
                      f"(limit {max_pixels // 1_000_000} megapixels)")


def _too_long(name: str, frames: int, width: int, height: int, max_total: int) -> StyloError:
    return StyloError(f"{name} is too large to hold in memory: {frames} frames of {width}x{height} px exceed "
                      f"{max_total // 1_000_000} megapixels in all; stylize a part of it (--frames A:B)")


def _checked_file(path: Path, name: str) -> None:
    """A regular file, or a one-line error that names the clip as ``name``."""
    try:
        regular_file(path, "video")
    except StyloError as exc:
        raise StyloError(str(exc).replace(shown(path), name)) from None


def _header(container: Any, name: str, first: int, last: int | None, max_frames: int, max_pixels: int,
            max_total: int) -> ClipInfo:
    if not container.streams.video:
        raise StyloError(f"{name} has no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > max_pixels:
        raise _too_large(name, width, height, max_pixels)
    count = int(stream.frames or 0) or None
    if count is not None:
        wanted = min(max(0, min(count, last if last is not None else count) - first), max_frames)
        if wanted * width * height > max_total:
            raise _too_long(name, wanted, width, height, max_total)
    rate = Fraction(stream.average_rate) if stream.average_rate else DEFAULT_FPS
    fps = rate if MIN_FPS <= rate <= MAX_FPS else DEFAULT_FPS
    return ClipInfo(width, height, count, fps, bool(container.streams.audio))


def probe_clip(path: Path | str, name: str | None = None, max_pixels: int = MAX_PIXELS,
               max_total_pixels: int = MAX_CLIP_PIXELS, max_frames: int = MAX_FRAMES) -> ClipInfo:
    """The size, frame count and rate of the video file at ``path`` from its header, decoding no frame; a one-line
    :class:`StyloError` when it is not a regular file, not a video, or its frames (at most ``max_frames`` of them)
    would exceed ``max_pixels`` each or ``max_total_pixels`` in all. Messages call the clip ``name`` (default: its
    path), so a server can name an upload by its own name rather than by its temporary file."""
    import av

    path = Path(path)
    name = shown(name) if name is not None else shown(path)
    _checked_file(path, name)
    try:
        with av.open(str(path)) as container:
            return _header(container, name, 0, None, max_frames, max_pixels, max_total_pixels)
    except av.error.FFmpegError as exc:
        raise StyloError(f"cannot read video {name}: {exc.strerror or type(exc).__name__}") from None


def read_clip(path: Path | str, first: int = 0, last: int | None = None, max_frames: int = MAX_FRAMES,
              name: str | None = None, max_pixels: int = MAX_PIXELS,
              max_total_pixels: int = MAX_CLIP_PIXELS) -> Clip:
    """Frames ``first`` to ``last`` (exclusive, at most ``max_frames``) of a video file or a folder of frames, as
    RGB images; sizes checked as :func:`probe_clip` does, before decoding and on every frame decoded."""
    path = Path(path)
    name = shown(name) if name is not None else shown(path)
    if path.is_dir():
        return _read_folder(path, first, last, max_frames, max_pixels, max_total_pixels)
    _checked_file(path, name)
    import av

    try:
        with av.open(str(path)) as container:
            info = _header(container, name, first, last, max_frames, max_pixels, max_total_pixels)
            frames = _decode(container, name, first, last, max_frames, max_pixels, max_total_pixels)
    except StyloError:
        raise
    except av.error.FFmpegError as exc:
        raise StyloError(f"cannot read video {name}: {exc.strerror or type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - a decoder fed hostile bytes may raise anything
        raise StyloError(f"cannot read video {name}: {type(exc).__name__}") from None
    if not frames:
        raise StyloError(f"no frames in {name} for the range {first}:{'' if last is None else last}")
    return Clip(frames, info.fps, path, info.has_audio)


def _decode(container: Any, name: str, first: int, last: int | None, max_frames: int, max_pixels: int,
            max_total: int) -> list[Image.Image]:
    """Decode frames ``first`` to ``last``, stopping at the first frame that breaks a bound (headers can lie)."""
    frames: list[Image.Image] = []
    total = 0
    for i, frame in enumerate(container.decode(container.streams.video[0])):
        if (last is not None and i >= last) or len(frames) >= max_frames:
            break
        if frame.width * frame.height > max_pixels:
            raise _too_large(name, frame.width, frame.height, max_pixels)
        if i < first:
            continue
        total += frame.width * frame.height
        if total > max_total:
            raise _too_long(name, len(frames) + 1, frame.width, frame.height, max_total)
        frames.append(frame.to_image().convert("RGB"))
    return frames


def _read_folder(path: Path, first: int, last: int | None, max_frames: int, max_pixels: int,
                 max_total: int) -> Clip:
    try:
        names = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as exc:
        raise StyloError(f"cannot list the frames in {shown(path)}: {exc.strerror or exc}") from None
    files = names[first:last][:max_frames]
    if not files:
        raise StyloError(f"no frames (.png, .jpg, ...) in {shown(path)}")
    frames: list[Image.Image] = []
    total = 0
    for p in files:
        regular_file(p, "frame")
        frames.append(decode_image(p, "frame", suffix=f": {shown(p)}", max_pixels=max_pixels))
        total += frames[-1].width * frames[-1].height
        if total > max_total:
            raise _too_long(shown(path), len(frames), *frames[-1].size, max_total)
    return Clip(frames, DEFAULT_FPS, path)
