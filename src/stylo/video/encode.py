"""Clips out: H.264 (.mp4, .m4v, .mov, .mkv), VP9 (.webm) or a GIF, with the audio copied (PyAV). A video is written
to a temporary file beside the output and renamed over it, so a failed write (a full disk) leaves the old file as it
was."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from stylo.errors import RunError, StyloError
from stylo.files import shown
from stylo.image import atomic_write
from stylo.video.io import MAX_FPS, is_video_file


@dataclass(frozen=True)
class OutputFormat:
    """How a video file is written: FFmpeg's muxer and encoder (none for a GIF: Pillow writes it)."""

    muxer: str
    codec: str  # "" for a GIF
    audio_codec: str | None  # encodes audio the container cannot take as it is; None: the format has no audio
    options: dict[str, str] = field(default_factory=dict)
    max_fps: Fraction = MAX_FPS


H264 = {"crf": "18"}
OUTPUT_FORMATS = {
    ".mp4": OutputFormat("mp4", "libx264", "aac", H264),
    ".m4v": OutputFormat("ipod", "libx264", "aac", H264),
    ".mov": OutputFormat("mov", "libx264", "aac", H264),
    ".mkv": OutputFormat("matroska", "libx264", "aac", H264),
    ".webm": OutputFormat("webm", "libvpx-vp9", "libopus", {"crf": "31", "b": "0", "deadline": "good",
                                                            "cpu-used": "4", "row-mt": "1"}),
    ".gif": OutputFormat("gif", "", None, max_fps=Fraction(50)),  # GIF delays are whole 1/100 s; ≥ 2 plays
}


def output_format(path: Path, fps: Fraction | None = None) -> OutputFormat:
    """How ``path`` will be written, checked before any compute: a known container, its encoder available in
    this PyAV, ``fps`` within what the format can play."""
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StyloError(f"cannot write {path.suffix or 'extension-less'} videos: write "
                         f"{', '.join(OUTPUT_FORMATS)}, or give a folder for the frames")
    if fmt.codec:
        import av

        missing = [c for c in (fmt.codec, fmt.audio_codec) if c and c not in av.codecs_available]
        if missing:
            raise StyloError(f"this PyAV has no {missing[0]} encoder to write {path.suffix} videos; write .mp4")
    if fps is not None and fps > fmt.max_fps:
        raise StyloError(f"a {path.suffix} video plays at most {fmt.max_fps} frames per second, got {fps}")
    return fmt


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """H.264 and VP9 in yuv420p need even sides."""
    return size[0] - size[0] % 2, size[1] - size[1] % 2


def write_video(frames: Iterable[Image.Image], path: Path, fps: Fraction, audio_from: Path | None = None) -> None:
    """Encode ``frames`` at ``fps`` in the format that ``path``'s suffix names (:data:`OUTPUT_FORMATS`), with the
    audio of ``audio_from`` if it has any, atomically: a failure leaves an existing ``path`` as it was and raises
    a one-line :class:`RunError`."""
    import av

    fmt = output_format(path, fps)

    def write(fh: BinaryIO) -> None:
        if fmt.codec:
            checked = _CheckedWrites(fh)
            try:
                _encode(checked, fmt, iter(frames), fps, audio_from)
            except av.error.FFmpegError:
                if checked.error is not None:  # PyAV reports it as "Error in PyAV callback"
                    raise checked.error from None
                raise
            if checked.error is not None:  # never to be ignored: the file would be broken
                raise checked.error
        else:
            _write_gif(fh, iter(frames), fps)
        fh.flush()
        os.fsync(fh.fileno())  # a full disk may only say so here

    try:
        atomic_write(path, write)
    except (OSError, av.error.FFmpegError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RunError(f"cannot write the video {shown(path)}: {reason}") from None


class _CheckedWrites:
    """A file for FFmpeg's writes that remembers the first one that failed (FFmpeg itself only logs it)."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def flush(self) -> None:
        self.fh.flush()


def _write_gif(fh: BinaryIO, frames: Iterator[Image.Image], fps: Fraction) -> None:
    first = next(frames, None)
    if first is None:
        raise RunError("no frames to write")
    rest = (img.convert("RGB") for img in frames)
    first.convert("RGB").save(fh, format="GIF", save_all=True, append_images=rest, loop=0,
                              duration=max(20, round(1000 / fps)))


def _encode(fh: Any, fmt: OutputFormat, frames: Iterator[Image.Image], fps: Fraction,
            audio_from: Path | None) -> None:
    import av

    first = next(frames, None)
    if first is None:
        raise RunError("no frames to write")
    with av.open(fh, "w", format=fmt.muxer) as out:
        stream: Any = out.add_stream(fmt.codec, rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.width, stream.height = even_size(first.size)
        stream.options = dict(fmt.options)
        source = av.open(str(audio_from)) if audio_from is not None and is_video_file(audio_from) else None
        try:
            audio = _add_audio(out, source, fmt)
            box = (0, 0, stream.width, stream.height)
            for img in _chain(first, frames):
                for packet in stream.encode(av.VideoFrame.from_image(img.convert("RGB").crop(box))):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
            if source is not None and audio is not None:
                _mux_audio(out, source, *audio)
        finally:
            if source is not None:
                source.close()


def _chain(first: Image.Image, rest: Iterator[Image.Image]) -> Iterator[Image.Image]:
    yield first
    yield from rest


def _add_audio(out: Any, source: Any, fmt: OutputFormat) -> tuple[Any, Any, bool] | None:
    """The source's audio stream, the output's, and whether its packets are copied (else re-encoded)."""
    if source is None or not source.streams.audio or fmt.audio_codec is None:
        return None
    audio_in = source.streams.audio[0]
    if audio_in.codec_context.name in out.supported_codecs:
        return audio_in, out.add_stream_from_template(audio_in), True
    rate = 48000 if fmt.audio_codec == "libopus" else audio_in.rate
    return audio_in, out.add_stream(fmt.audio_codec, rate=rate), False


def _mux_audio(out: Any, source: Any, audio_in: Any, audio_out: Any, copy: bool) -> None:
    if copy:
        for packet in source.demux(audio_in):
            if packet.dts is None:
                continue
            packet.stream = audio_out
            out.mux(packet)
        return
    for frame in source.decode(audio_in):
        frame.pts = None
        for packet in audio_out.encode(frame):
            out.mux(packet)
    for packet in audio_out.encode(None):
        out.mux(packet)
