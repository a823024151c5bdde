"""``stylo video``: its flags as a :class:`~stylo.jobs.ClipJob` (the frames here or in chunks on an executor), run by
:func:`stylo.jobs.run_job`, and a line per frame from its events."""

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
from stylo.errors import StyloError
from stylo.files import shown
from stylo.interrupt import StopFlag


def add_video_parser(sub: Any) -> None:
    v = sub.add_parser("video", help="stylize a clip (a video file or a folder of frames) without flicker")
    v.add_argument("input", metavar="IN", help="a video file (.mp4, .mov, ...) or a folder of frames")
    v.add_argument("styles", metavar="STYLE", nargs="*", help="style images (none with --network)")
    v.add_argument("-o", "--output", required=True, metavar="OUT", help="a video file (.mp4) or a folder")
    v.add_argument("--frames", metavar="A:B", type=frame_range, default=(0, None), help="frames A to B-1 only")
    v.add_argument("--fps", type=fps_value, metavar="F",
                   help="frame rate of the output, e.g. 24 or 30000/1001 (default: the input's)")
    v.add_argument("--network", metavar="NAME.stylo.pt",
                   help="paint every frame with a network that `stylo learn` trained (no style image needed)")
    v.add_argument("--blend", type=float, metavar="B",
                   help="with --network: the share of the previous frame, warped along the motion, in each "
                        "frame (0 = frame by frame; default 0.4)")
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


def clip_job(args: argparse.Namespace, settings: Any) -> Any:
    """The :class:`~stylo.jobs.ClipJob` of ``stylo video``'s flags (with ``--network``, the settings are those the
    network was trained with, then the flags given)."""
    from stylo.jobs import Chunking, ClipJob

    chunked = args.executor != "local" or args.workers != 1
    first, last = args.frames
    network = None
    if args.network is not None:
        from stylo.cli.common import settings_from_namespace
        from stylo.files import regular_file
        from stylo.learn.jobs import network_settings
        from stylo.learn.network import Network

        if args.config or args.config_from:
            raise StyloError("--network does not take --config or --config-from")
        network = regular_file(args.network, "network file")
        settings = network_settings(Network.load(network), settings_from_namespace(args))
    elif args.blend is not None:
        raise StyloError("--blend goes with --network")
    return ClipJob(Path(args.input), tuple(map(Path, args.styles)), Path(args.output), settings, first, last,
                   args.fps, chunking=Chunking(executor_from(args), args.chunk, args.overlap) if chunked else None,
                   network=network, blend=args.blend)


class FrameLines:
    """``stylo video``'s progress: one line per frame on stderr (``--quiet``: none); counts the frames in place."""

    def __init__(self, quiet: bool):
        self.quiet, self.frames, self.total = quiet, 0, 0

    def __call__(self, event: Any) -> None:
        from stylo.events import FrameEvent

        if not isinstance(event, FrameEvent):
            return
        self.frames, self.total = self.frames + 1, event.total
        if self.quiet or event.assembled:
            return
        state = "from an earlier run" if event.reused else f"{event.seconds:.1f} s"
        eta = f", {event.fps:.2f} frames/s, {event.eta:.0f} s left" if event.fps else ""
        print(f"frame {event.index + 1}/{event.total}: {state}{eta}", file=sys.stderr, flush=True)


def cmd_video(args: argparse.Namespace, settings: Any, stop: StopFlag) -> int:
    """``stylo video``: a :class:`~stylo.jobs.ClipJob` through :func:`~stylo.jobs.run_job`. Ctrl-C and SIGTERM
    (through the CLI's ``stop``): after the current step while frames are computed, at once otherwise; exit 130
    with one line that says which frames were kept."""
    from stylo.events import ClipRendered
    from stylo.jobs import raise_failed, run_job
    from stylo.video.clip import frames_folder

    job = clip_job(args, settings)
    lines = FrameLines(args.quiet)
    try:
        done = raise_failed(run_job(job, lines, stop.should_stop, stop.immediate))
    except KeyboardInterrupt:
        folder = frames_folder(job)
        if lines.frames and lines.frames == lines.total:  # every frame is in place: the signal came while encoding
            print(f"stylo: interrupted while writing {shown(job.output)}; all {lines.frames} frames are kept in "
                  f"{shown(folder)}; rerun the same command to write it", file=sys.stderr)
            return EXIT_INTERRUPTED
        return interrupted(folder, lines.total or None, job.chunking is not None)
    outcome = done.outcome
    assert isinstance(outcome, ClipRendered)
    if outcome.interrupted:
        return interrupted(outcome.folder, outcome.total, job.chunking is not None)
    if not args.quiet:
        print(f"stylo: wrote {shown(job.output)} ({len(outcome.frames)} frames; frames kept in "
              f"{shown(outcome.folder)})", file=sys.stderr)
    return 0


def count_frames(folder: Path) -> int:
    from stylo.video.pipeline import FRAME_NAME

    return sum(1 for p in folder.iterdir() if FRAME_NAME.fullmatch(p.name)) if folder.is_dir() else 0


def interrupted(folder: Path, total: int | None, chunked: bool) -> int:
    """After a signal: one line that says what was kept; the finished frames stay for a rerun to resume."""
    if chunked:
        kept = f"the chunks' finished frames are kept in {shown(folder / 'chunks')}"
    else:
        done = count_frames(folder)
        of = f" of {total}" if total is not None else ""
        kept = f"{done}{of} frames finished and kept in {shown(folder)}" if done else \
            f"no frame{of} was finished"
    print(f"stylo: interrupted; {kept}; rerun the same command to continue", file=sys.stderr)
    return EXIT_INTERRUPTED
