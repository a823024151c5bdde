"""``stylo video``: thin wrappers over :mod:`stylo.video`; the frames here or in chunks on an executor."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from stylo.cli.common import (
    EXIT_INTERRUPTED,
    add_config_flags,
    add_executor_flags,
    add_quiet_flag,
    add_setting_flags,
    executor_from,
)
from stylo.errors import RunError, StyloError
from stylo.files import regular_file, shown
from stylo.interrupt import StopFlag


def add_video_parser(sub: Any) -> None:
    v = sub.add_parser("video", help="stylize a clip (a video file or a folder of frames) without flicker")
    v.add_argument("input", metavar="IN", help="a video file (.mp4, .mov, ...) or a folder of frames")
    v.add_argument("styles", metavar="STYLE", nargs="+")
    v.add_argument("-o", "--output", required=True, metavar="OUT", help="a video file (.mp4) or a folder")
    v.add_argument("--frames", metavar="A:B", type=frame_range, default=(0, None), help="frames A to B-1 only")
    v.add_argument("--fps", type=fps_value, metavar="F",
                   help="frame rate of the output, e.g. 24 or 30000/1001 (default: the input's)")
    add_config_flags(v)
    add_quiet_flag(v)
    v.add_argument("--chunk", type=int, default=24, metavar="N",
                   help="with --executor ray or --workers N: frames per chunk (default 24)")
    v.add_argument("--overlap", type=int, default=6, metavar="N",
                   help="frames each chunk also computes before its own, cross-faded with its predecessor's "
                        "(default 6)")
    add_executor_flags(v)
    add_setting_flags(v)


def frame_range(text: str) -> tuple[int, int | None]:
    first, sep, last = text.partition(":")
    try:
        a, b = int(first or 0), (int(last) if last else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (frame numbers), got {text!r}") from None
    if not sep or a < 0 or (b is not None and b <= a):
        raise argparse.ArgumentTypeError(f"expected A:B with 0 <= A < B, got {text!r}")
    return a, b


def fps_value(text: str) -> Fraction:
    """``--fps``: checked when the flags are parsed, so a bad rate stops the command before anything is read."""
    from stylo.video.io import parse_fps

    try:
        return parse_fps(text)
    except StyloError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def frames_folder(args: argparse.Namespace) -> Path:
    """Where the frames go (``-o`` itself, or ``OUT_frames/`` beside a video file), checked before anything is
    read: a container stylo can write, never an input, never the input folder or a folder inside it."""
    from stylo.image import check_output_path, same_file
    from stylo.video.io import is_video_file, output_format

    source, out = Path(args.input), Path(args.output)
    if not source.is_dir():
        regular_file(source, "video")
    for path in (source, *map(Path, args.styles)):
        if same_file(out, path):
            raise StyloError(f"output {shown(out)} is one of the inputs; choose another name so the input is kept")
    if is_video_file(out):
        output_format(out, args.fps)
        if out.is_dir():
            raise StyloError(f"output {shown(out)} is a folder, not a video file")
        check_output_path(out.with_suffix(".png"))  # the folder is writable
        folder = out.with_name(f"{out.stem}_frames")
    else:
        folder = out
    if folder.exists() and not folder.is_dir():
        raise StyloError(f"cannot keep frames in {shown(folder)}: it exists and is not a folder")
    check_apart(source, folder)
    if (args.executor != "local" or args.workers != 1) and (args.chunk < 1 or not 0 <= args.overlap < args.chunk):
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


def cmd_video(args: argparse.Namespace, settings: Any, stop: StopFlag) -> int:
    """``stylo video``. Ctrl-C and SIGTERM (through the CLI's ``stop``): after the current
    step while frames are computed, at once otherwise; exit 130 with one line that says which frames were kept."""
    from stylo.video.extras import require_video_extras

    require_video_extras()
    from stylo.image import open_image
    from stylo.video.io import MAX_FRAMES, is_video_file, output_format, read_clip
    from stylo.video.pipeline import check_folder, claim_folder, frames_key

    folder = frames_folder(args)
    source, out = Path(args.input), Path(args.output)
    styles = [open_image(regular_file(p, "style image"), "style image") for p in args.styles]
    first, last = args.frames
    clip = read_clip(source, first, last, max_frames=MAX_FRAMES + 1)
    if len(clip.frames) > MAX_FRAMES:
        raise StyloError(f"the clip has more than {MAX_FRAMES} frames; stylize a part of it (--frames A:B)")
    fps = args.fps if args.fps is not None else clip.fps
    if is_video_file(out):
        output_format(out, fps)
    chunked = args.executor != "local" or args.workers != 1
    key = frames_key(clip.frames, styles, settings,
                     {"first": first, "chunks": [args.chunk, args.overlap] if chunked else None})
    if chunked:
        claim_folder(folder, key)
    else:
        check_folder(folder, key)  # stylize_frames writes the key with the first frame
    try:
        written = stylize_clip(args, settings, clip, styles, folder, stop, key)
    except KeyboardInterrupt:
        written = []
    if len(written) < len(clip.frames):
        return interrupted(folder, len(clip.frames), chunked)
    audio = source if args.frames == (0, None) and clip.has_audio else None
    if is_video_file(out) and encode(out, written, fps, audio, folder, stop):
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(out)} ({len(written)} frames; frames kept in {shown(folder)})", file=sys.stderr)
    return 0


def stylize_clip(args: argparse.Namespace, settings: Any, clip: Any, styles: list[Any], folder: Path,
                 stop: StopFlag, key: str) -> list[Path]:
    """The frames, here (stopping after the current step on a signal) or in chunks on an executor."""
    from stylo.video.pipeline import FrameDone, stylize_frames

    def report(done: FrameDone) -> None:
        if args.quiet:
            return
        state = "from an earlier run" if done.reused else f"{done.seconds:.1f} s"
        eta = f", {done.fps:.2f} frames/s, {done.eta:.0f} s left" if done.fps else ""
        print(f"frame {done.index + 1}/{done.total}: {state}{eta}", file=sys.stderr, flush=True)

    if args.executor == "local" and args.workers == 1:
        return stylize_frames(clip.frames, styles, settings, folder, report, stop.should_stop, key)
    from stylo.plan import run_seed
    from stylo.video.chunks import stylize_chunked

    s = settings.replace(seed=run_seed(settings.seed, repeatable=True))  # every chunk draws the same noise
    with stop.immediate():
        return stylize_chunked(Path(args.input), args.frames[0], len(clip.frames), [Path(p) for p in args.styles],
                               s.to_dict(), folder, executor_from(args), args.chunk, args.overlap)


def interrupted(folder: Path, total: int, chunked: bool) -> int:
    """After a signal: one line that says what was kept; the finished frames stay for a rerun to resume."""
    from stylo.video.pipeline import FRAME_NAME

    if chunked:
        kept = f"the chunks' finished frames are kept in {shown(folder / 'chunks')}"
    else:
        done = sum(1 for p in folder.iterdir() if FRAME_NAME.fullmatch(p.name)) if folder.is_dir() else 0
        kept = f"{done} of {total} frames finished and kept in {shown(folder)}" if done else \
            f"no frame of {total} was finished"
    print(f"stylo: interrupted; {kept}; rerun the same command to continue", file=sys.stderr)
    return EXIT_INTERRUPTED


def encode(out: Path, written: list[Path], fps: Fraction, audio: Path | None, folder: Path, stop: StopFlag) -> int:
    """The video from the finished frames; a signal or a failed write leaves an existing ``out`` as it was."""
    from PIL import Image

    from stylo.video.io import write_video

    kept = f"all {len(written)} frames are kept in {shown(folder)}"
    try:
        with stop.immediate():
            write_video((Image.open(p) for p in written), out, fps, audio_from=audio)
    except KeyboardInterrupt:
        print(f"stylo: interrupted while writing {shown(out)}; {kept}; rerun the same command to write it",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except RunError as exc:
        raise RunError(f"{exc}; {kept}") from None
    return 0
