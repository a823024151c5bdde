"""``stylo video`` and ``stylo eval --video``: thin wrappers over :mod:`stylo.video`."""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from stylo.errors import StyloError


def add_video_parser(sub: Any) -> None:
    from stylo.experiments.commands import add_executor_flags
    from stylo.options import add_setting_flags

    v = sub.add_parser("video", help="stylize a clip (a video file or a folder of frames) without flicker")
    v.add_argument("input", metavar="IN", help="a video file (.mp4, .mov, ...) or a folder of frames")
    v.add_argument("styles", metavar="STYLE", nargs="+")
    v.add_argument("-o", "--output", required=True, metavar="OUT", help="a video file (.mp4) or a folder")
    v.add_argument("--frames", metavar="A:B", type=frame_range, default=(0, None), help="frames A to B-1 only")
    v.add_argument("--fps", type=Fraction, metavar="F", help="frame rate of the output (default: the input's)")
    v.add_argument("--config", metavar="TOML", help="settings file; flags override it")
    v.add_argument("--config-from", default=None, help=argparse.SUPPRESS)
    v.add_argument("--quiet", action="store_true")
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


def require_video_extras() -> None:
    try:
        import av  # noqa: F401
        import cv2  # noqa: F401
    except ImportError:
        raise StyloError("video needs its extras: pip install 'stylo[video]' (PyAV and OpenCV)") from None


def cmd_video(args: argparse.Namespace, settings: Any) -> int:
    require_video_extras()
    from stylo.image import check_output_path, open_image, same_file
    from stylo.video.io import is_video_file, read_clip, write_video
    from stylo.video.pipeline import FrameDone, stylize_frames

    source, out = Path(args.input), Path(args.output)
    if same_file(out, source):
        raise StyloError(f"output {out} is the input; choose another name so the input is kept")
    to_file = is_video_file(out)
    if to_file:
        check_output_path(out.with_suffix(".png"))  # the folder is writable
        frames_dir = out.with_name(f"{out.stem}_frames")
    else:
        frames_dir = out
    if frames_dir.exists() and not frames_dir.is_dir():
        raise StyloError(f"cannot keep frames in {frames_dir}: it exists and is not a folder")
    styles = [open_image(p, "style image") for p in args.styles]
    clip = read_clip(source, *args.frames)

    def report(done: FrameDone) -> None:
        if args.quiet:
            return
        state = "from an earlier run" if done.reused else f"{done.seconds:.1f} s"
        eta = f", {done.fps:.2f} frames/s, {done.eta:.0f} s left" if done.fps else ""
        print(f"frame {done.index + 1}/{done.total}: {state}{eta}", file=sys.stderr, flush=True)

    chunked = args.executor != "local" or args.workers != 1
    if chunked:
        if args.chunk < 1 or not 0 <= args.overlap < args.chunk:
            raise StyloError("--chunk must be >= 1 and --overlap between 0 and chunk - 1")
        from stylo.experiments.executors import make_executor
        from stylo.video.chunks import stylize_chunked

        s = settings if settings.seed is not None else settings.replace(seed=0)
        written = stylize_chunked(source, args.frames[0], len(clip.frames), [Path(p) for p in args.styles],
                                  s.to_dict(), frames_dir, make_executor(args.executor, args.workers,
                                                                         args.ray_address),
                                  args.chunk, args.overlap)
    else:
        written = stylize_frames(clip.frames, styles, settings, frames_dir, report)
    if to_file:
        from PIL import Image

        audio = source if args.frames == (0, None) and clip.has_audio else None
        write_video((Image.open(p) for p in written), out, args.fps or clip.fps, audio_from=audio)
    if not args.quiet:
        print(f"stylo: wrote {out} ({len(written)} frames; frames kept in {frames_dir})", file=sys.stderr)
    return 0


def cmd_eval_video(args: argparse.Namespace) -> int:
    """``stylo eval --video INPUT OUTPUT [STYLE]``: the warping error, and the mean per-frame distances."""
    require_video_extras()
    from stylo.metrics import evaluate
    from stylo.video.flow import warping_error
    from stylo.video.io import read_clip

    inputs, outputs = read_clip(args.content).frames, read_clip(args.style).frames
    n = min(len(inputs), len(outputs))
    if n < 2:
        raise StyloError("the warping error needs at least two frames in each clip")
    row: dict[str, float] = {"warping_error": warping_error(inputs[:n], outputs[:n])}
    if args.images:
        from stylo.image import open_image

        style = open_image(args.images[0], "style image")
        scores = [evaluate(o, i, style) for i, o in zip(inputs[:n], outputs[:n])]
        row["style_distance"] = sum(m.style_distance_sum for m in scores) / n
        row["content_distance"] = sum(m.content_distance for m in scores) / n
    if args.json:
        print(json.dumps(row))
    else:
        for key, value in row.items():
            print(f"{key} {value:.6g}")
    return 0
