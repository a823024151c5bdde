"""Clips in and out: a video file (PyAV: any container FFmpeg reads; H.264 out, with the audio copied) or a
folder of frames (PNG/JPEG, in name order)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from stylo.errors import StyloError
from stylo.image import IMAGE_SUFFIXES, open_image

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif"}
DEFAULT_FPS = Fraction(24)


@dataclass
class Clip:
    frames: list[Image.Image]
    fps: Fraction
    source: Path
    has_audio: bool = False


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def read_clip(path: Path | str, first: int = 0, last: int | None = None, max_frames: int = 10_000) -> Clip:
    """Frames ``first`` to ``last`` (exclusive) of a video file or a folder of frames, as RGB images."""
    path = Path(path)
    if not path.exists():
        raise StyloError(f"video not found: {path}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[first:last]
        if not files:
            raise StyloError(f"no frames (.png, .jpg, ...) in {path}")
        return Clip([open_image(p, "frame") for p in files[:max_frames]], DEFAULT_FPS, path)
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise StyloError(f"{path} has no video stream")
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate or DEFAULT_FPS)
            frames = []
            for i, frame in enumerate(container.decode(stream)):
                if last is not None and i >= last:
                    break
                if i >= first:
                    frames.append(frame.to_image().convert("RGB"))
                if len(frames) >= max_frames:
                    break
            has_audio = bool(container.streams.audio)
    except av.error.FFmpegError as exc:
        raise StyloError(f"cannot read video {path}: {exc}") from None
    if not frames:
        raise StyloError(f"no frames in {path} for the range {first}:{'' if last is None else last}")
    return Clip(frames, fps, path, has_audio)


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides."""
    return size[0] - size[0] % 2, size[1] - size[1] % 2


def write_video(frames: Iterable[Image.Image], path: Path, fps: Fraction, audio_from: Path | None = None) -> None:
    """Encode ``frames`` as H.264 (yuv420p) at ``fps``; copy the audio of ``audio_from`` if it has any."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        source = av.open(str(audio_from)) if audio_from is not None and is_video_file(audio_from) else None
        audio_in = source.streams.audio[0] if source is not None and source.streams.audio else None
        audio_out = out.add_stream_from_template(audio_in) if audio_in is not None else None
        for i, img in enumerate(frames):
            if i == 0:
                stream.width, stream.height = even_size(img.size)
            frame = av.VideoFrame.from_image(img.convert("RGB").crop((0, 0, stream.width, stream.height)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_in is not None and audio_out is not None and source is not None:
            for packet in source.demux(audio_in):
                if packet.dts is None:
                    continue
                packet.stream = audio_out
                out.mux(packet)
        if source is not None:
            source.close()
